"""Image attacks: pure functions on Bx3xHxW float images in [0,1], registered in ``attacks.registry``.

Importing this package registers every image attack (``attacks.registry.load_all()`` does it).
Default grids, weakest first (the neutral value first where one exists):

==========================  ===========  =========================================  =============
id                          param        grid                                       implementation
==========================  ===========  =========================================  =============
gaussian_noise              std          0, 0.02, 0.056, 0.11, 0.22, 0.5            torch, seeded
gaussian_blur               kernel_size  0, 3, 5, 9, 13, 17 (sigma: OpenCV rule)    torch
jpeg                        quality      100, 90, 70, 50, 30, 10                    PIL / libjpeg
center_crop                 ratio        1.0, 0.9, 0.8, 0.7, 0.6, 0.5               torch (= PIL)
resize                      scale        1.0, 0.75, 0.5, 0.32                       torch (= PIL)
rotation                    angle        0, 5, 10, 30, 45, 90                       torch
brightness, contrast,       factor       1.0, 0.8, 1.25, 0.67, 1.5, 0.5, 2.0        torch (PIL
saturation, sharpness                    (ordered by abs(ln factor))                semantics)
median_filter               kernel_size  1, 3, 5, 9                                 torch
erasing                     ratio        0, 0.1, 0.25, 0.5                          torch, seeded
combo_crop_brightness_jpeg  strength     0, 0.25, 0.5, 0.75, 1.0                    chain
==========================  ===========  =========================================  =============
"""

from fpbench.attacks.image.blur import gaussian_blur
from fpbench.attacks.image.colour import brightness, contrast, saturation, sharpness
from fpbench.attacks.image.combined import combo_crop_brightness_jpeg
from fpbench.attacks.image.erasing import erasing
from fpbench.attacks.image.filters import median_filter
from fpbench.attacks.image.geometry import center_crop, resize, rotation
from fpbench.attacks.image.jpeg import jpeg
from fpbench.attacks.image.noise import gaussian_noise

__all__ = [
    "brightness", "center_crop", "combo_crop_brightness_jpeg", "contrast", "erasing", "gaussian_blur",
    "gaussian_noise", "jpeg", "median_filter", "resize", "rotation", "saturation", "sharpness",
]
