from lassodrop.audiolasso.sse import parse_events, split_lines


def test_events_are_split_on_blank_lines_and_comments_are_ignored() -> None:
    chunks = [b': keep-alive\n\nevent: status\ndata: {"a": 1}\n\n', b'event: status\ndata: {"a": 2}\n\n']

    events = list(parse_events(split_lines(chunks)))

    assert events == [("status", '{"a": 1}'), ("status", '{"a": 2}')]


def test_a_crlf_split_between_reads_does_not_break_an_event() -> None:
    chunks = [b"event: status\r", b"\ndata: {}\r\n", b"\r\n"]

    assert list(parse_events(split_lines(chunks))) == [("status", "{}")]


def test_multi_line_data_is_joined_and_an_unfinished_event_is_dropped() -> None:
    chunks = [b"data: one\ndata: two\n\nevent: status\ndata: partial"]

    assert list(parse_events(split_lines(chunks))) == [("message", "one\ntwo")]
