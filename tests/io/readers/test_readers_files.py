"""Whole-file behaviour shared by every reader: gzip, unreadable files, the output contract."""

from __future__ import annotations

import gzip

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from pipeline.io.readers import Source, UnreadableFile, read_usage_file
from schemas.outputs import REJECTS
from schemas.usage import USAGE_POLARS, UsageRecord

ASTERISK = Source(name="pbx", format="asterisk", pattern="Master*", timezone="Europe/Vienna")
FREESWITCH = Source(name="fs", format="freeswitch", pattern="*", timezone="Europe/Berlin")
NFDUMP = Source(name="edge", format="nfdump", pattern="*", timezone="UTC")
MAPPED = Source(name="csv", format="csv", pattern="*")
SAMPLES = {
    "asterisk": (
        ASTERISK,
        '"acc1","43316812724","4930123456","ctx","""A, B"" <1>","SIP/1","SIP/2","Dial","x,60","2026-10-01 09:00:00","2026-10-01 09:00:05","2026-10-01 09:01:05",65,60,"ANSWERED","DOCUMENTATION","1759302000.1",""\n'
        '"acc1","4331681272420","4366412345","ctx","","SIP/3","","Dial","","2026-10-01 09:05:00",,"2026-10-01 09:05:20",20,0,"NO ANSWER","DOCUMENTATION","1759302300.2",""\n',
    ),
    "freeswitch": (
        FREESWITCH,
        '"Alice","43316812724","4930123456","default","2026-10-01 09:00:00","2026-10-01 09:00:05","2026-10-01 09:01:05","65","60","NORMAL_CLEARING","u-1","","acc1"\n',
    ),
    "nfdump": (
        NFDUMP,
        "firstSeen,duration,proto,srcAddr,srcPort,dstAddr,dstPort,packets,bytes,flows\n"
        "2026-10-01 09:00:00.123,3.500,6,167.112.17.42,51000,8.8.8.8,443,12,15000,1\n",
    ),
    "csv": (MAPPED, "subscriber_id,start_time,duration_s\n43316812724,2026-10-01 09:00:00,60\n"),
}


@pytest.mark.parametrize("kind", list(SAMPLES))
def test_gzip_is_read_transparently(tmp_path, kind):
    source, text = SAMPLES[kind]
    plain, packed = tmp_path / "Master.csv", tmp_path / "Master.csv.gz"
    plain.write_text(text, encoding="utf-8")
    packed.write_bytes(gzip.compress(text.encode("utf-8")))
    from_plain, from_packed = read_usage_file(plain, source), read_usage_file(packed, source)
    assert from_packed.usage.height == from_plain.usage.height > 0
    assert_frame_equal(from_packed.usage.drop("source_file"), from_plain.usage.drop("source_file"))
    assert from_packed.usage["source_file"].unique().to_list() == ["Master.csv.gz"]


@pytest.mark.parametrize("kind", list(SAMPLES))
def test_every_reader_keeps_the_contract(tmp_path, kind):
    source, text = SAMPLES[kind]
    path = tmp_path / "Master.csv"
    path.write_text(text + "\n", encoding="utf-8")
    result = read_usage_file(path, source)
    assert result.usage.schema == USAGE_POLARS
    assert result.rejects.columns == [f.name for f in REJECTS if f.name != "run_id"]
    UsageRecord.validate(result.usage)


def truncated_gzip(text: str) -> bytes:
    packed = gzip.compress(text.encode("utf-8") * 50)
    return packed[: len(packed) // 2]


@pytest.mark.parametrize(
    ("name", "content", "source", "message"),
    [
        ("Master.csv", b"", ASTERISK, "empty file"),
        ("Master.csv", b"\n  \n\r\n", ASTERISK, "empty file"),
        ("Master.csv.gz", gzip.compress(b""), ASTERISK, "empty file"),
        ("Master.csv.gz", b"", ASTERISK, "empty file"),  # 0 bytes under a .gz name: empty, not "not gzip-compressed"
        ("Master.csv.gz", truncated_gzip(SAMPLES["asterisk"][1]), ASTERISK, "truncated or corrupt gzip"),
        ("Master.csv.gz", b"not gzip at all", ASTERISK, "named .gz but not gzip-compressed"),
        ("Master.csv", b"PAR1\x00\x01\x02binary\x00", ASTERISK, "binary content"),
        ("Master.csv", b"date;caller;callee\n2026-10-01;1;2\n", ASTERISK, "not an Asterisk Master.csv"),
        ("cdr.csv", SAMPLES["asterisk"][1].encode(), FREESWITCH, "not a FreeSWITCH cdr-csv file"),
        ("flows.csv", SAMPLES["asterisk"][1].encode(), NFDUMP, "not an nfdump CSV export"),
        ("usage.csv", b"caller,when\n1,2\n", MAPPED, "missing columns subscriber_id, start_time, duration_s or volume_bytes"),
        # a byte order mark is not content
        ("Master.csv", b"\xef\xbb\xbf\r\n", ASTERISK, "empty file"),
        ("cdr.csv", b"\xef\xbb\xbf\n\n", FREESWITCH, "empty file"),
        ("flows.csv", b"\xef\xbb\xbf", NFDUMP, "empty file"),
        ("usage.csv", b"\xef\xbb\xbf\r\n  \r\n", MAPPED, "empty file"),
        ("usage.csv.gz", gzip.compress(b"\xef\xbb\xbf\n"), MAPPED, "empty file"),
        ("flows.csv", "\u00a0\n\u3000\r\n".encode(), NFDUMP, "empty file"),  # blanks beyond ASCII
        ("Master.csv", "\u00a0\n".encode(), ASTERISK, "empty file"),
    ],
    ids=["empty", "blank-lines", "empty-gzip", "zero-bytes-named-gz", "truncated-gzip", "fake-gzip", "binary", "semicolons", "asterisk-as-freeswitch", "asterisk-as-nfdump", "csv-without-columns",
         "bom-asterisk", "bom-freeswitch", "bom-nfdump", "bom-csv", "bom-gzip", "unicode-blanks-nfdump", "unicode-blanks-asterisk"],
)
def test_files_that_cannot_be_read_are_unreadable(tmp_path, name, content, source, message):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(UnreadableFile, match=message) as caught:
        read_usage_file(path, source)
    assert caught.value.path == path
    assert message in caught.value.reason


def test_bytes_that_are_not_utf8_do_not_stop_the_file(tmp_path):
    source, text = SAMPLES["asterisk"]
    path = tmp_path / "Master.csv"
    path.write_bytes(text.replace("Dial", "Dial\xe9").encode("latin-1"))
    result = read_usage_file(path, source)
    assert result.usage["subscriber_id"].to_list() == ["43316812724", "4331681272420"]


def test_windows_line_ends_read_like_unix_ones(tmp_path):
    source, text = SAMPLES["asterisk"]
    unix, windows = tmp_path / "Master.csv", tmp_path / "Master-crlf.csv"
    unix.write_text(text, encoding="utf-8")
    windows.write_bytes(text.replace("\n", "\r\n").encode("utf-8"))
    assert_frame_equal(read_usage_file(windows, source).usage.drop("source_file"), read_usage_file(unix, source).usage.drop("source_file"))


def test_the_same_file_gives_the_same_record_keys_every_time(tmp_path):
    lines = "\n".join(
        f'"acc1","4331681272{i:02d}","4930123456","ctx","","SIP/{i}","","Dial","","2026-10-01 09:{i:02d}:00",,"2026-10-01 09:{i:02d}:10",10,0,"NO ANSWER","DOCUMENTATION"'
        for i in range(20)
    )
    path = tmp_path / "Master.csv"
    path.write_text(lines, encoding="utf-8")
    first, second = read_usage_file(path, ASTERISK), read_usage_file(path, ASTERISK)
    assert first.usage["record_key"].n_unique() == 20
    assert first.usage["record_key"].to_list() == second.usage["record_key"].to_list()
    assert first.usage["record_key"].str.contains(r"^pbx:[0-9a-f]{32}$").all()
    assert pl.Series(first.usage["source_line"]).to_list() == list(range(1, 21))


@pytest.mark.parametrize(
    ("name", "text", "source", "message"),
    [
        ("usage.csv", "subscriber_id;start_time;duration_s\n43;2026-10-01 00:00:00;5\n", Source(name="csv", format="csv", pattern="*", delimiter=","), "missing columns"),
        ("usage.csv", "subscriber_id,start_time,duration_s\n43,2026-10-01 00:00:00,5,1\n43,2026-10-01 00:00:01\n", MAPPED, "no line has the 3 fields of its header"),
        ("flows.csv", "firstSeen,duration,proto,srcAddr,srcPort,dstAddr,dstPort,packets,bytes,flows\n1,2,3\n4,5,6\n", NFDUMP, "no line has the 10 fields of its nfdump 1.7 header"),
    ],
    ids=["csv-other-delimiter", "csv-rows-never-fit", "nfdump-rows-never-fit"],
)
def test_a_file_whose_lines_never_fit_its_header_is_unreadable(tmp_path, name, text, source, message):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(UnreadableFile, match=message):
        read_usage_file(path, source)
