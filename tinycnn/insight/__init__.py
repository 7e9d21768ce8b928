"""Pictures and the report: filters, feature maps, Grad-CAM, quantization plots, the HTML report
and the browser that renders it.
"""
