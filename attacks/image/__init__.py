"""Image attacks: pure functions on Bx3xHxW float images in [0,1], registered in ``attacks.registry``.

Importing this package registers every image attack (``attacks.registry.load_all()`` does it).
Default grids, weakest first (the neutral value first where one exists):

===========================  =============  =========================================  =============
id                           param          grid                                       implementation
===========================  =============  =========================================  =============
gaussian_noise               std            0, 0.02, 0.056, 0.11, 0.22, 0.5            torch, seeded
gaussian_blur                kernel_size    0, 3, 5, 9, 13, 17 (sigma: OpenCV rule)    torch
jpeg                         quality        100, 90, 70, 50, 30, 10                    PIL / libjpeg
center_crop                  kept_side      1.0, 0.9, 0.8, 0.7, 0.6, 0.5               torch (= PIL)
resize                       scale          1.0, 0.75, 0.5, 0.32                       torch (= PIL)
rotation                     angle          0, 5, 10, 30, 45, 90                       torch
brightness, contrast,        factor         1.0, 0.8, 1.25, 0.67, 1.5, 0.5, 2.0        torch (PIL
saturation, sharpness                       (ordered by abs(ln factor))                semantics)
median_filter                kernel_size    1, 3, 5, 9                                 torch
erasing                      erased_area    0, 0.1, 0.25, 0.5                          torch, seeded
combo_crop_brightness_jpeg   strength       0, 0.25, 0.5, 0.75, 1.0                    chain
horizontal_flip              flip           0, 1 (1 = mirrored left-right)             torch (= PIL)
perspective                  distortion     0, 0.05, 0.1, 0.15, 0.2                    kornia, seeded
hue                          hue_shift      0, 0.05, 0.1, 0.25, 0.5 (turns)            kornia
gamma                        gamma          1.0, 0.8, 1.25, 0.67, 1.5, 0.5, 2.0        torch
overlay_text                 text_height    0, 0.05, 0.1, 0.15, 0.2, 0.25              PIL text, seeded
webp                         quality        100, 90, 70, 50, 30, 10                    PIL / libwebp
random_resized_crop          kept_area      1.0, 0.9, 0.75, 0.5, 0.35 (aspect 3/4-4/3) torch (= PIL), seeded
translation                  shift          0, 0.05, 0.1, 0.2, 0.3 (of the side)       torch, seeded
collage                      replaced_area  0, 0.1, 0.25, 0.5 (donor: 1/f texture)     torch, seeded
salt_pepper                  amount         0, 0.01, 0.05, 0.1, 0.2                    torch, seeded
bilateral                    sigma_color    0, 0.05, 0.1, 0.2, 0.4 (5x5, sigma 1.1)    kornia
combo_geometric_photometric  strength       0, 0.25, 0.5, 0.75, 1.0                    chain, seeded
combo_degradation            strength       0, 0.25, 0.5, 0.75, 1.0                    chain, seeded
===========================  =============  =========================================  =============
"""

from fpbench.attacks.image.blur import gaussian_blur
from fpbench.attacks.image.collage import collage
from fpbench.attacks.image.colour import brightness, contrast, saturation, sharpness
from fpbench.attacks.image.combined import (
    combo_crop_brightness_jpeg,
    combo_degradation,
    combo_geometric_photometric,
)
from fpbench.attacks.image.denoise import bilateral
from fpbench.attacks.image.erasing import erasing
from fpbench.attacks.image.filters import median_filter
from fpbench.attacks.image.flip import horizontal_flip
from fpbench.attacks.image.geometry import center_crop, resize, rotation
from fpbench.attacks.image.impulse import salt_pepper
from fpbench.attacks.image.jpeg import jpeg
from fpbench.attacks.image.noise import gaussian_noise
from fpbench.attacks.image.overlay import overlay_text
from fpbench.attacks.image.perspective import perspective
from fpbench.attacks.image.random_geometry import random_resized_crop, translation
from fpbench.attacks.image.tone import gamma, hue
from fpbench.attacks.image.webp import webp

__all__ = [
    "bilateral", "brightness", "center_crop", "collage", "combo_crop_brightness_jpeg",
    "combo_degradation", "combo_geometric_photometric", "contrast", "erasing", "gamma", "gaussian_blur",
    "gaussian_noise", "horizontal_flip", "hue", "jpeg", "median_filter", "overlay_text", "perspective",
    "random_resized_crop", "resize", "rotation", "salt_pepper", "saturation", "sharpness", "translation",
    "webp",
]
