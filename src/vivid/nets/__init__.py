"""Networks. ``frvsr``: the frame-recurrent video generator and its flow network.

(The image networks still live in ``vivid.models``; the layout issue moves them here.)
"""
