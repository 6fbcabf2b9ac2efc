"""The many-host client on libssh2."""

__all__ = ['ParallelSSHClient']


class ParallelSSHClient:  # placeholder until the parallel client lands
    def __init__(self, *args, **kwargs):
        raise NotImplementedError('ParallelSSHClient is not implemented yet')
