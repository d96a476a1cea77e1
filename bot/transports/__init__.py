"""The transports: the only code that imports ``telegram`` or ``nio``.

Each platform is a package with its transport, the translation of its updates into neutral
events, and the one module (``render``) that turns outgoing items (:mod:`bot.outgoing`) into
the payloads its sender delivers (``payloads``). ``planning`` is how the code that queues
items reaches each platform's render module without naming the platform.
"""
