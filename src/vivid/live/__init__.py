"""``vivid live``: real-time super-resolution of a webcam, stream or file, shown in the browser.

``source`` opens what FFmpeg reads (one-line errors), ``reader`` decodes it in a thread (files
paced at their own rate, ``--loop``, reconnects for streams and webcams), ``pipeline`` upscales
and encodes for the page in two more threads joined by latest-frame slots (``slots``: a slow
stage drops frames, counted, never queues them), ``frames`` composes what is shown, ``models``
loads any upscaler as a frame function, ``recorder`` writes what was shown, ``web`` is the page
(``mos.security``'s protections) and ``server`` runs it.
"""
