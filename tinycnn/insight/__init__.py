"""Pictures and the report: filters, feature maps, Grad-CAM, quantization plots, the HTML report
and the browser that renders it.
"""

from tinycnn.settings import Setting, settings_table

# What `tinycnn visualize` looks at, checked by `visualize` (`report` shares --image).
VISUALIZE_SETTINGS: dict[str, Setting] = settings_table(
    Setting(
        "image",
        "A Fashion-MNIST test-image index, or a picture file (PNG, JPEG...).",
        str,
        default="0",
    ),
    Setting(
        "layer",
        "Layer for the filter patterns and DeepDream [default: the last convolution].",
        str,
    ),
    Setting(
        "other_class",
        "Second class for Grad-CAM [default: the runner-up].",
        int,
        0,
        option="--class",
    ),
)
