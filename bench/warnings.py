"""fpbench's warning classes, shared by every package (``warnings.filterwarnings(..., FpbenchWarning)``)."""


class FpbenchWarning(UserWarning):
    """Base class of fpbench's warnings (filter them with ``warnings.filterwarnings``)."""
