"""What the tests drive and stand on: the Bot API emulator, a real Synapse, members' chats
over each transport, a bridged working group, a hand-moved clock. Imported as
``tests.harness.<module>`` by the tests and by ``bench/``."""
