"""Unit tests of pssh.output line splitting over a hand-filled ConcurrentRWBuffer (no network)."""
import logging
import re
import time

import gevent
import pytest

import pssh
from pssh.clients.reader import ConcurrentRWBuffer
from pssh.exceptions import Timeout
from pssh.output import BufferData, HostOutput, HostOutputBuffers


def make_output(stdout_chunks=(), stderr_chunks=(), eof=True, host='h1', **kwargs):
    out, err = ConcurrentRWBuffer(), ConcurrentRWBuffer()
    for chunk in stdout_chunks:
        out.write(chunk)
    for chunk in stderr_chunks:
        err.write(chunk)
    if eof:
        out.set_eof()
        err.set_eof()
    buffers = HostOutputBuffers(BufferData(None, out), BufferData(None, err))
    output = HostOutput(host, None, None, None, buffers=buffers, **kwargs)
    return output, out, err


def reference_lines(text):
    """Split as the contract says: on \\n or \\r\\n, a lone \\r kept, last partial line kept."""
    if not text:
        return []
    lines = re.split(r'\r?\n', text)
    if lines[-1] == '':
        lines.pop()
    return lines


# ---------------------------------------------------------------------------
# ConcurrentRWBuffer


@pytest.mark.timeout(10)
def test_buffer_read_and_eof():
    buf = ConcurrentRWBuffer()
    assert len(buf) == 0
    assert buf.read() is None
    buf.write(b'ab')
    buf.write(b'')
    buf.write(b'cd')
    assert len(buf) == 4
    assert not buf.finished
    assert buf.read() == b'abcd'
    assert buf.read() is None
    assert not buf.wait(0.01)
    buf.write(b'e')
    buf.set_eof()
    assert buf.wait(0)
    assert not buf.finished
    assert list(buf) == [b'e']
    assert buf.finished
    assert list(buf) == []


@pytest.mark.timeout(10)
def test_buffer_iteration_waits_for_writer():
    buf = ConcurrentRWBuffer()

    def writer():
        for chunk in (b'one', b'two', b'three'):
            gevent.sleep(0.01)
            buf.write(chunk)
        buf.set_eof()

    greenlet = gevent.spawn(writer)
    assert b''.join(buf) == b'onetwothree'
    greenlet.join(5)
    assert greenlet.successful()


@pytest.mark.timeout(10)
@pytest.mark.parametrize('data', [b'', b'last'])
def test_buffer_iteration_ends_when_writer_sets_eof_event(data):
    # parallel-ssh's writers end a stream with ``buffer.eof.set()``, not set_eof():
    # a reader already waiting must wake and stop, not wait for ever.
    buf = ConcurrentRWBuffer()
    buf.write(b'first')
    chunks = []

    def reader():
        for chunk in buf:
            chunks.append(chunk)

    greenlet = gevent.spawn(reader)
    gevent.sleep(0)  # the reader has taken b'first' and waits for more
    assert chunks == [b'first']
    buf.write(data)
    buf.eof.set()
    greenlet.join(5)
    assert greenlet.dead and greenlet.successful()
    assert chunks == [b'first', data] if data else [b'first']
    assert buf.finished
    assert buf.read() is None
    assert buf.wait(0)
    assert list(buf) == []


@pytest.mark.timeout(10)
def test_buffer_read_of_nothing_is_none():
    buf = ConcurrentRWBuffer()
    assert buf.read() is None
    buf.write(b'x')
    assert buf.read() == b'x'
    assert buf.read() is None
    buf.eof.set()
    assert buf.read() is None


# ---------------------------------------------------------------------------
# line splitting


@pytest.mark.timeout(10)
@pytest.mark.parametrize('chunks,expected', [
    ([], []),
    ([b''], []),
    ([b'\n'], ['']),
    ([b'\n\n'], ['', '']),
    ([b'a\nb\n'], ['a', 'b']),
    ([b'a\nb'], ['a', 'b']),
    ([b'a'], ['a']),
    ([b'ab', b'cd', b'\n', b'ef'], ['abcd', 'ef']),
    ([b'a\r\nb\r\n'], ['a', 'b']),
    ([b'a\r', b'\nb\n'], ['a', 'b']),
    ([b'a', b'\r', b'\n', b'b'], ['a', 'b']),
    ([b'a\rb\n'], ['a\rb']),
    ([b'a\r\r\n'], ['a\r']),
    ([b'\r\n'], ['']),
    ([b'\r\n\r\n'], ['', '']),
    ([b'a\r\nb\rc\n'], ['a', 'b\rc']),
    ([b'\rx\n'], ['\rx']),
    ([b'x\r'], ['x\r']),
    ([b'x\n\r'], ['x', '\r']),
    ([b'x\r', b'y\n'], ['x\ry']),
])
def test_line_splitting(chunks, expected):
    output, _, _ = make_output(chunks)
    assert list(output.stdout) == expected


@pytest.mark.timeout(30)
def test_line_splitting_at_every_chunk_boundary():
    text = 'a\r\nb\rc\n\n\u00e9\u20ac\U0001F600\r\nd\r\r\nlast\r'
    data = text.encode('utf-8')
    expected = reference_lines(text)
    assert expected[-1] == 'last\r'
    for cut in range(len(data) + 1):
        output, _, _ = make_output([data[:cut], data[cut:]])
        assert list(output.stdout) == expected, cut
    for cut1 in range(len(data) + 1):
        for cut2 in range(cut1, len(data) + 1):
            output, _, _ = make_output([data[:cut1], data[cut1:cut2], data[cut2:]])
            assert list(output.stdout) == expected, (cut1, cut2)
    output, _, _ = make_output([data[i:i + 1] for i in range(len(data))])
    assert list(output.stdout) == expected


@pytest.mark.timeout(10)
def test_multibyte_character_split_over_chunks():
    data = '\U0001F600 h\u00e9\n'.encode('utf-8')
    output, _, _ = make_output([data[i:i + 1] for i in range(len(data))])
    assert list(output.stdout) == ['\U0001F600 h\u00e9']


@pytest.mark.timeout(10)
def test_latin1():
    output, _, _ = make_output([b'\xe9t\xe9\n', b'caf\xe9'], encoding='latin-1')
    assert list(output.stdout) == ['\u00e9t\u00e9', 'caf\u00e9']


@pytest.mark.timeout(10)
def test_utf16_split_at_odd_bytes():
    data = 'hi\r\nyo\n\u00e9'.encode('utf-16')
    for cut in range(len(data) + 1):
        output, _, _ = make_output([data[:cut], data[cut:]], encoding='utf-16')
        assert list(output.stdout) == ['hi', 'yo', '\u00e9'], cut


@pytest.mark.timeout(10)
def test_unknown_encoding():
    with pytest.raises(LookupError):
        make_output([b'x\n'], encoding='no-such-encoding-xyz')


@pytest.mark.timeout(30)
def test_many_lines_large_chunks():
    line = b'x' * 99 + b'\n'
    chunk = line * 10000  # about 1 MB
    output, _, _ = make_output([chunk] * 5 + [b'tail'])
    lines = list(output.stdout)
    assert len(lines) == 50001
    assert lines[:-1] == ['x' * 99] * 50000
    assert lines[-1] == 'tail'


@pytest.mark.timeout(30)
def test_one_long_line_over_many_chunks():
    output, _, _ = make_output([b'y' * 65536] * 80)
    assert list(output.stdout) == ['y' * 65536 * 80]


@pytest.mark.timeout(10)
def test_stdout_and_stderr_are_separate():
    output, _, _ = make_output([b'o1\no2\n'], [b'e1\n'])
    assert list(output.stderr) == ['e1']
    assert list(output.stdout) == ['o1', 'o2']


@pytest.mark.timeout(10)
def test_each_line_given_once():
    output, _, _ = make_output([b'1\n2\n3\n4\n5'])
    gen = output.stdout
    assert next(gen) == '1'
    assert next(gen) == '2'
    gen.close()
    gen2 = output.stdout
    assert next(gen2) == '3'
    # An abandoned generator loses nothing.
    del gen2
    assert list(output.stdout) == ['4', '5']
    assert list(output.stdout) == []


@pytest.mark.timeout(10)
def test_two_live_generators_share_position():
    output, _, _ = make_output([b'1\n2\n3\n4\n'])
    gen_a, gen_b = output.stdout, output.stdout
    assert next(gen_a) == '1'
    assert next(gen_b) == '2'
    assert next(gen_a) == '3'
    assert list(gen_b) == ['4']
    assert list(gen_a) == []


@pytest.mark.timeout(10)
def test_lines_arrive_while_reading():
    output, out, _ = make_output(eof=False)

    def writer():
        for chunk in (b'first\nsec', b'ond\n', b'third'):
            gevent.sleep(0.01)
            out.write(chunk)
        out.set_eof()

    greenlet = gevent.spawn(writer)
    assert list(output.stdout) == ['first', 'second', 'third']
    greenlet.join(5)


# ---------------------------------------------------------------------------
# read_timeout


@pytest.mark.timeout(10)
def test_read_timeout_then_rest_readable():
    output, out, _ = make_output([b'one\npart'], eof=False, read_timeout=0.3)
    got = []
    started = time.monotonic()
    with pytest.raises(Timeout) as excinfo:
        for line in output.stdout:
            got.append(line)
    elapsed = time.monotonic() - started
    assert got == ['one']
    assert 0.25 <= elapsed < 2
    assert isinstance(excinfo.value, TimeoutError)
    assert 'h1' in str(excinfo.value)
    out.write(b'ial\nlast')
    out.set_eof()
    assert list(output.stdout) == ['partial', 'last']


@pytest.mark.timeout(10)
def test_read_timeout_is_one_timer_over_the_iteration():
    """Lines trickling in do not extend the read timeout."""
    output, out, _ = make_output(eof=False, read_timeout=0.5)

    def writer():
        for i in range(100):
            out.write(b'%d\n' % i)
            gevent.sleep(0.05)
        out.set_eof()

    greenlet = gevent.spawn(writer)
    got = []
    started = time.monotonic()
    with pytest.raises(Timeout):
        for line in output.stdout:
            got.append(line)
    elapsed = time.monotonic() - started
    greenlet.kill()
    assert 0.45 <= elapsed < 1.5
    assert 3 <= len(got) <= 30
    assert got == [str(i) for i in range(len(got))]


@pytest.mark.timeout(10)
def test_read_timeout_on_stderr():
    output, _, err = make_output(stderr_chunks=[b'e\n'], eof=False, read_timeout=0.2)
    gen = output.stderr
    assert next(gen) == 'e'
    with pytest.raises(Timeout):
        next(gen)


@pytest.mark.timeout(10)
def test_no_read_timeout_waits():
    output, out, _ = make_output(eof=False)
    gevent.spawn_later(0.3, lambda: (out.write(b'late\n'), out.set_eof()))
    assert list(output.stdout) == ['late']


# ---------------------------------------------------------------------------
# host logger and the rest of HostOutput


class _ListHandler(logging.Handler):
    def __init__(self):
        super().__init__(logging.INFO)
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


@pytest.mark.timeout(10)
def test_host_logger_lines():
    handler = _ListHandler()
    old_level = pssh.host_logger.level
    pssh.host_logger.addHandler(handler)
    pssh.host_logger.setLevel(logging.INFO)
    try:
        output, _, _ = make_output([b'o1\no2'], [b'e1\n'], host='myhost')
        assert list(output.stdout) == ['o1', 'o2']
        assert list(output.stderr) == ['e1']
    finally:
        pssh.host_logger.removeHandler(handler)
        pssh.host_logger.setLevel(old_level)
    assert handler.messages == ['[myhost]\to1', '[myhost]\to2', '[myhost]\t[err]\te1']


@pytest.mark.timeout(10)
def test_host_logger_silent_by_default(caplog):
    """Nothing is logged unless the host logger has been enabled."""
    output, _, _ = make_output([b'x\n'])
    assert list(output.stdout) == ['x']
    assert [r for r in caplog.records if r.name == 'pssh.host_logger'] == []


@pytest.mark.timeout(10)
def test_failed_host_output():
    exc = RuntimeError('boom')
    output = HostOutput('bad', None, None, None, exception=exc)
    assert output.stdout is None
    assert output.stderr is None
    assert output.exit_code is None
    assert output.exception is exc
    text = repr(output)
    assert 'bad' in text and 'boom' in text


@pytest.mark.timeout(10)
def test_host_output_attributes():
    output, out, err = make_output([b'x\n'], alias='al', read_timeout=3, encoding='latin-1')
    output.fully_qualified_command = b'echo x'
    assert output.host == 'h1'
    assert output.alias == 'al'
    assert output.read_timeout == 3
    assert output.encoding == 'latin-1'
    assert output.buffers.stdout.rw_buffer is out
    assert output.buffers.stderr.rw_buffer is err
    text = repr(output)
    for part in ('h1', 'al', 'exit_code=None', 'latin-1', 'read_timeout=3', "b'echo x'"):
        assert part in text
    assert str(output) == text
