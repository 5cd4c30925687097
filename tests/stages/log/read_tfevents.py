#!/usr/bin/env python3
"""Independent reader of TensorBoard event files, for tfevents_test.ts.

Parses TFRecord framing (uint64 length, masked CRC-32C of the length, data, masked CRC-32C
of the data), checks both CRCs with its own CRC-32C, decodes Event / Summary / Value /
TensorProto / SummaryMetadata protos by field number and prints them as JSON. The hparams
plugin's content (HParamsPluginData: experiment, session_start_info, session_end_info, with
google.protobuf.Value hyper-parameters) is decoded too, field numbers taken from
TensorBoard's plugin_data.proto and api.proto.
Usage: read_tfevents.py FILE
"""
import json
import struct
import sys


def make_table():
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


TABLE = make_table()


def crc32c(data):
    c = 0xFFFFFFFF
    for b in data:
        c = TABLE[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def masked(data):
    c = crc32c(data)
    return ((((c >> 15) | (c << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF


def fields(buf):
    """Yields (field number, wire type, value) of a protobuf message."""
    i = 0
    while i < len(buf):
        key, i = varint(buf, i)
        num, wire = key >> 3, key & 7
        if wire == 0:
            v, i = varint(buf, i)
        elif wire == 1:
            v = buf[i:i + 8]
            i += 8
        elif wire == 2:
            n, i = varint(buf, i)
            v = buf[i:i + n]
            i += n
        elif wire == 5:
            v = buf[i:i + 4]
            i += 4
        else:
            raise ValueError("unsupported wire type %d" % wire)
        yield num, wire, v
    if i != len(buf):
        raise ValueError("message overruns its buffer")


def varint(buf, i):
    shift = result = 0
    while True:
        b = buf[i]
        i += 1
        result |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return result, i


def double(v):
    return struct.unpack("<d", v)[0]


def proto_value(buf):
    """google.protobuf.Value: number_value=2, string_value=3, bool_value=4."""
    for num, _, v in fields(buf):
        if num == 2:
            return double(v)
        if num == 3:
            return v.decode()
        if num == 4:
            return bool(v)
    return None


def metric_name(buf):
    out = {"group": "", "tag": ""}
    for num, _, v in fields(buf):
        if num == 1:
            out["group"] = v.decode()
        elif num == 2:
            out["tag"] = v.decode()
    return out


def experiment(buf):
    out = {"hparam_infos": [], "metric_infos": []}
    for num, _, v in fields(buf):
        if num == 3:
            out["time_created_secs"] = double(v)
        elif num == 4:
            info = {"type": 0}
            for n2, _, v2 in fields(v):
                if n2 == 1:
                    info["name"] = v2.decode()
                elif n2 == 4:
                    info["type"] = v2
            out["hparam_infos"].append(info)
        elif num == 5:
            info = {"dataset_type": 0}
            for n2, _, v2 in fields(v):
                if n2 == 1:
                    info["name"] = metric_name(v2)
                elif n2 == 5:
                    info["dataset_type"] = v2
            out["metric_infos"].append(info)
    return out


def session_start(buf):
    out = {"hparams": {}}
    for num, _, v in fields(buf):
        if num == 1:
            key, val = None, None
            for n2, _, v2 in fields(v):
                if n2 == 1:
                    key = v2.decode()
                elif n2 == 2:
                    val = proto_value(v2)
            out["hparams"][key] = val
        elif num == 5:
            out["start_time_secs"] = double(v)
    return out


def session_end(buf):
    out = {"status": 0}
    for num, _, v in fields(buf):
        if num == 1:
            out["status"] = v
        elif num == 2:
            out["end_time_secs"] = double(v)
    return out


def hparams_plugin_data(buf):
    """HParamsPluginData{version=1, experiment=2, session_start_info=3, session_end_info=4}."""
    out = {"version": 0}
    for num, _, v in fields(buf):
        if num == 1:
            out["version"] = v
        elif num == 2:
            out["experiment"] = experiment(v)
        elif num == 3:
            out["session_start_info"] = session_start(v)
        elif num == 4:
            out["session_end_info"] = session_end(v)
    return out


def value(buf):
    out = {}
    for num, wire, v in fields(buf):
        if num == 1:
            out["tag"] = v.decode()
        elif num == 2 and wire == 5:
            out["simple_value"] = struct.unpack("<f", v)[0]
        elif num == 8:
            t = {"string_val": []}
            for n2, _, v2 in fields(v):
                if n2 == 1:
                    t["dtype"] = v2
                elif n2 == 2:
                    t["dims"] = [list(fields(d)) for _, _, d in fields(v2)]
                elif n2 == 8:
                    t["string_val"].append(v2.decode())
            out["tensor"] = t
        elif num == 9:
            content = None
            for n2, _, v2 in fields(v):
                if n2 == 1:
                    for n3, _, v3 in fields(v2):
                        if n3 == 1:
                            out["plugin"] = v3.decode()
                        elif n3 == 2:
                            content = v3
            if out.get("plugin") == "hparams" and content is not None:
                out["hparams_plugin"] = hparams_plugin_data(content)
    return out


def event(buf):
    out = {}
    for num, wire, v in fields(buf):
        if num == 1 and wire == 1:
            out["wall_time"] = struct.unpack("<d", v)[0]
        elif num == 2 and wire == 0:
            out["step"] = v
        elif num == 3:
            out["file_version"] = v.decode()
        elif num == 5:
            out["values"] = [value(v2) for n2, _, v2 in fields(v) if n2 == 1]
    return out


def main(path):
    data = open(path, "rb").read()
    events = []
    i = 0
    while i < len(data):
        header = data[i:i + 8]
        if len(header) < 8:
            raise ValueError("truncated length at %d" % i)
        (length,) = struct.unpack("<Q", header)
        (len_crc,) = struct.unpack("<I", data[i + 8:i + 12])
        if masked(header) != len_crc:
            raise ValueError("length CRC mismatch at %d" % i)
        body = data[i + 12:i + 12 + length]
        if len(body) < length:
            raise ValueError("truncated record at %d" % i)
        (data_crc,) = struct.unpack("<I", data[i + 12 + length:i + 16 + length])
        if masked(body) != data_crc:
            raise ValueError("data CRC mismatch at %d" % i)
        events.append(event(body))
        i += 16 + length
    json.dump({"crc_checked": len(events), "events": events}, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1])
