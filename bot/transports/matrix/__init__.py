"""Matrix, on matrix-nio: events in (``events``), outgoing items rendered into payloads and
sent out (``render``, ``payloads``, ``sender``; ``legacy`` for rows an earlier version
queued), files (``media``), and the transport that runs the sync loop (``transport``)."""
