"""Image attacks: pure functions on Bx3xHxW float images in [0,1], registered in ``attacks.registry``.

Importing this package registers every image attack (``attacks.registry.load_all()`` does it).
"""

from attacks.image.blur import gaussian_blur
from attacks.image.colour import brightness, contrast, saturation, sharpness
from attacks.image.combined import combo_crop_brightness_jpeg
from attacks.image.erasing import erasing
from attacks.image.filters import median_filter
from attacks.image.geometry import center_crop, resize, rotation
from attacks.image.jpeg import jpeg
from attacks.image.noise import gaussian_noise

__all__ = [
    "brightness", "center_crop", "combo_crop_brightness_jpeg", "contrast", "erasing", "gaussian_blur",
    "gaussian_noise", "jpeg", "median_filter", "resize", "rotation", "saturation", "sharpness",
]
