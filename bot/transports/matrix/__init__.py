"""Matrix, on matrix-nio: events in (``events``), rendered content out (``render``, ``sender``),
files (``media``), and the transport that runs the sync loop (``transport``)."""
