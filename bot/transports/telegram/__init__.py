"""Telegram, on python-telegram-bot: updates in (``events``), rendered payloads out (``render``,
``sender``), files (``media``), and the transport that runs them (``transport``)."""
