"""Default values shared by every client."""

#: Number of attempts made to connect to a host before giving up.
DEFAULT_RETRIES = 3
#: Seconds between connection attempts.
RETRY_DELAY = 5

__all__ = ['DEFAULT_RETRIES', 'RETRY_DELAY']
