"""External generators: model cards (YAML/JSON) and adapters to one ``ModelEntry.sample(n, seed)``."""

from fpbench.zoo.card import (
    MAX_CARD_BYTES,
    ModelCard,
    ModelCardError,
    check_fingerprint,
    load_card,
    parse_card,
)
from fpbench.zoo.entry import ModelEntry, entry_from_card, load_model
from fpbench.zoo.sources import IMAGE_SUFFIXES, import_callable, list_images, load_images

__all__ = [
    "IMAGE_SUFFIXES", "MAX_CARD_BYTES", "ModelCard", "ModelCardError", "ModelEntry", "check_fingerprint",
    "entry_from_card", "import_callable", "list_images", "load_card", "load_images", "load_model",
    "parse_card",
]
