"""What an image file spends on its container, and what is left when many images share one.

A per-image file repeats headers that are the same for every 28x28 grey image (WebP's RIFF
and VP8 chunk headers, start code and dimensions; JPEG's JFIF, quantisation, Huffman, frame
and scan headers; AVIF's ISOBMFF boxes and AV1 sequence header; JPEG XL's signature). A
container holding many images stores those once and each image's remaining bytes behind a
length. `split` separates a file into (shared, own): `shared` with the fields that only
restate the length zeroed, so that it is identical across a set; `join` rebuilds the
exact file from the two, which proves nothing the decoder needs was dropped.

shared_view(files, codec) is then bytes per image in such a container: the shared part
once, plus for each image its own bytes and a LEB128 length.
"""

from __future__ import annotations

import struct


def leb128_size(value: int) -> int:
    """Bytes of an unsigned LEB128 number (the length written before each image's bytes)."""
    size = 1
    while value >= 128:
        value >>= 7
        size += 1
    return size


# --- WebP (lossy, simple format: RIFF 'WEBP' holding one 'VP8 ' chunk) -----------------------------
# RIFF(4) size(4) 'WEBP'(4) 'VP8 '(4) chunk size(4), then the VP8 key frame: frame tag (3, holds the
# first partition's size: the image's own), start code 9d 01 2a (3), width (2), height (2).

def _webp_split(data: bytes) -> tuple[bytes, bytes]:
    if data[:4] != b"RIFF" or data[8:16] != b"WEBPVP8 ":
        raise ValueError("not a simple lossy WebP file (RIFF/WEBP/VP8 expected)")
    (chunk,) = struct.unpack_from("<I", data, 16)
    frame = data[20 : 20 + chunk]
    if len(frame) != chunk or frame[3:6] != b"\x9d\x01\x2a":
        raise ValueError("WebP chunk truncated or without a VP8 key frame start code")
    shared = b"RIFF\0\0\0\0WEBPVP8 \0\0\0\0" + frame[3:10]
    return shared, frame[:3] + frame[10:]


def _webp_join(shared: bytes, own: bytes) -> bytes:
    frame = own[:3] + shared[20:27] + own[3:]
    chunk = struct.pack("<I", len(frame)) + frame + (b"\0" if len(frame) % 2 else b"")
    return b"RIFF" + struct.pack("<I", 4 + 8 + len(chunk) - 4) + b"WEBPVP8 " + chunk


# --- JPEG (baseline, Pillow's standard Huffman tables: optimize=False) ------------------------------
# Every marker segment up to and including the scan header is the same for images of one size and
# quality when the tables are the standard ones; the image's own bytes are the entropy-coded scan.

def _jpeg_split(data: bytes) -> tuple[bytes, bytes]:
    if data[:2] != b"\xff\xd8" or data[-2:] != b"\xff\xd9":
        raise ValueError("not a complete JPEG file (SOI ... EOI expected)")
    offset = 2
    while True:
        if data[offset] != 0xFF:
            raise ValueError("JPEG marker expected")
        marker = data[offset + 1]
        (length,) = struct.unpack_from(">H", data, offset + 2)
        offset += 2 + length
        if marker == 0xDA:  # start of scan: entropy-coded data follows
            break
        if marker in (0xC2, 0xDD):
            raise ValueError("progressive or restart-interval JPEG: use baseline without restarts")
    return data[:offset] + b"\xff\xd9", data[offset:-2]


def _jpeg_join(shared: bytes, own: bytes) -> bytes:
    return shared[:-2] + own + shared[-2:]


# --- AVIF (ISOBMFF: ftyp, meta, mdat holding AV1 OBUs) ----------------------------------------------
# The boxes around mdat restate the payload's length and offset (iloc) and otherwise describe the
# same 28x28 grey still image each time; inside mdat the sequence-header OBU is identical too.

def _boxes(data: bytes):
    offset = 0
    while offset < len(data):
        size, kind = struct.unpack_from(">I4s", data, offset)
        if size < 8 or offset + size > len(data):
            raise ValueError("AVIF box sizes do not add up")
        yield kind, offset, size
        offset += size


def _obus(payload: bytes):
    """(type, start, end) of each AV1 OBU; every OBU in an AVIF item carries its size."""
    offset = 0
    while offset < len(payload):
        header = payload[offset]
        kind, extension, has_size = (header >> 3) & 15, (header >> 2) & 1, (header >> 1) & 1
        if not has_size:
            raise ValueError("AV1 OBU without a size field")
        start = offset + 1 + extension
        size, shift, cursor = 0, 0, start
        while True:
            byte = payload[cursor]
            size |= (byte & 127) << shift
            shift += 7
            cursor += 1
            if byte < 128:
                break
        yield kind, offset, cursor + size
        offset = cursor + size


def _avif_split(data: bytes) -> tuple[bytes, bytes]:
    boxes = list(_boxes(data))
    if [kind for kind, _, _ in boxes] != [b"ftyp", b"meta", b"mdat"]:
        raise ValueError("AVIF file laid out other than ftyp, meta, mdat")
    _, offset, size = boxes[2]
    payload = data[offset + 8 : offset + size]
    obus = list(_obus(payload))
    sequence = [end for kind, _, end in obus if kind == 1]
    if not sequence or any(kind not in (1, 2) for kind, _, end in obus if end <= sequence[0]):
        raise ValueError("AVIF item does not open with a temporal delimiter and an AV1 sequence header")
    outer = bytearray(data[:offset])
    # iloc's extent length restates the payload's length: zero it (the join writes it back)
    where = _iloc_extent_length(bytes(outer))
    if struct.unpack_from(">I", outer, where)[0] != len(payload):
        raise ValueError("AVIF iloc extent length does not match the payload")
    outer[where : where + 4] = bytes(4)
    shared = struct.pack(">HH", len(outer), where) + bytes(outer) + payload[: sequence[0]]
    return shared, payload[sequence[0] :]


def _iloc_extent_length(head: bytes) -> int:
    """Offset of the extent length of the single item in the iloc box (ISO/IEC 14496-12, 8.11.3)."""
    box = head.find(b"iloc")
    if box < 0:
        raise ValueError("AVIF file without an iloc box")
    version, sizes, bases = head[box + 4], head[box + 8], head[box + 9]
    offset_size, length_size, base_size = sizes >> 4, sizes & 15, bases >> 4
    index_size = bases & 15 if version in (1, 2) else 0
    wide = 4 if version == 2 else 2
    (count,) = struct.unpack_from(">I" if wide == 4 else ">H", head, box + 10)
    cursor = box + 10 + wide + wide + (2 if version in (1, 2) else 0) + 2 + base_size  # item ID, method, data ref
    (extents,) = struct.unpack_from(">H", head, cursor)
    if count != 1 or extents != 1 or length_size != 4:
        raise ValueError("AVIF iloc with other than one item of one extent with a 4-byte length")
    return cursor + 2 + index_size + offset_size


def _avif_join(shared: bytes, own: bytes) -> bytes:
    length, where = struct.unpack_from(">HH", shared, 0)
    outer, prefix = bytearray(shared[4 : 4 + length]), shared[4 + length :]
    payload = prefix + own
    outer[where : where + 4] = struct.pack(">I", len(payload))
    return bytes(outer) + struct.pack(">I4s", len(payload) + 8, b"mdat") + payload


# --- JPEG XL (bare codestream) ---------------------------------------------------------------------
# The codestream's size and metadata header is bit-packed into the frame, so only its 2-byte
# signature is shared.

def _jxl_split(data: bytes) -> tuple[bytes, bytes]:
    if data[:2] != b"\xff\x0a":
        raise ValueError("not a bare JPEG XL codestream (FF 0A expected; the ISOBMFF container is not handled)")
    return data[:2], data[2:]


def _jxl_join(shared: bytes, own: bytes) -> bytes:
    return shared + own


SPLITTERS = {"webp": (_webp_split, _webp_join), "jpeg": (_jpeg_split, _jpeg_join),
             "avif": (_avif_split, _avif_join), "jxl": (_jxl_split, _jxl_join)}


def shared_view(files: list[bytes], codec: str) -> dict:
    """Bytes per image when the files' shared part is stored once and each image's own bytes behind a
    LEB128 length; checks that the shared part really is identical and that every file rebuilds exactly."""
    split, join = SPLITTERS[codec]
    shared_parts, total = set(), 0
    for data in files:
        shared, own = split(data)
        if join(shared, own) != data:
            raise ValueError(f"{codec}: a file does not rebuild from its shared and own parts")
        shared_parts.add(shared)
        total += len(own) + leb128_size(len(own))
    if len(shared_parts) != 1:
        raise ValueError(f"{codec}: the parts assumed shared differ between images ({len(shared_parts)} variants)")
    shared = shared_parts.pop()
    return {"bytes_per_image": round((total + len(shared)) / len(files), 2), "shared_bytes": len(shared),
            "own_bytes_per_image": round(total / len(files), 2)}
