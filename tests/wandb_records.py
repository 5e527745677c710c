"""Read a W&B offline run file (run-*.wandb) back into wandb's own protobuf Records.

wandb 0.2x shipped a reader (wandb.sdk.internal.datastore); since its writer moved into
wandb-core that reader is gone. The file is a LevelDB-style log of wandb_internal_pb2.Record
messages: a 7-byte header (b":W&B", 0xBEE1, version), then 32 KiB blocks of chunks, each
chunk a 7-byte header (crc32, length, type: full / first / middle / last) and its bytes.
"""

from __future__ import annotations

import struct
from pathlib import Path

from wandb.proto import wandb_internal_pb2

BLOCK = 32 * 1024
HEADER = 7
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4


def records(path: Path) -> list:
    data = path.read_bytes()
    assert data[:4] == b":W&B", f"{path}: not a W&B run file"
    out, pending, offset = [], b"", HEADER
    while offset + HEADER <= len(data):
        room = BLOCK - offset % BLOCK
        if room < HEADER:  # a block's tail too short for a chunk header is padding
            offset += room
            continue
        _crc, length, kind = struct.unpack("<IHB", data[offset : offset + HEADER])
        chunk = data[offset + HEADER : offset + HEADER + length]
        offset += HEADER + length
        if kind == 0 and length == 0:
            break  # zero padding: the end
        pending = chunk if kind in (FULL, FIRST) else pending + chunk
        if kind in (FULL, LAST):
            record = wandb_internal_pb2.Record()
            record.ParseFromString(pending)
            out.append(record)
    return out
