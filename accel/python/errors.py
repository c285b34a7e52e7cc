"""The board-side runtime's errors (standard library only: the overlay package ships this file)."""


class DriverError(Exception):
    """Wrong input, metadata or buffers, or a DMA error: the message says what to fix."""


class DeviceTimeout(DriverError, TimeoutError):
    """A DMA transfer did not complete before its deadline."""
