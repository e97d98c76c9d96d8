"""External generators: model cards (YAML/JSON) and adapters to one ``ModelEntry.sample(n, seed)``."""

from bench.zoo.card import ModelCard, ModelCardError, check_fingerprint, load_card, parse_card
from bench.zoo.entry import ModelEntry, entry_from_card, load_model
from bench.zoo.sources import IMAGE_SUFFIXES, import_callable, list_images, load_images

__all__ = [
    "IMAGE_SUFFIXES", "ModelCard", "ModelCardError", "ModelEntry", "check_fingerprint", "entry_from_card",
    "import_callable", "list_images", "load_card", "load_images", "load_model", "parse_card",
]
