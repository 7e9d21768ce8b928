"""Every engine that runs an int8 model, side by side: one batch through one engine (predict), all
of them compared (verify).
"""
