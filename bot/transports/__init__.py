"""The transports: the only code that imports ``telegram`` or ``nio``.

Each platform is a package with its transport, the translation of its updates into neutral
events, and the one module (``render``) that turns outgoing items into its payloads.
"""
