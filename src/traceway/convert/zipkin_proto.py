"""Zipkin v2's protobuf messages (zipkin-api ``zipkin.proto``, package ``zipkin.proto3``).

Built from a hand-written descriptor so no generated code or protoc is needed.
"""

from __future__ import annotations

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory


def _zipkin_file() -> descriptor_pb2.FileDescriptorProto:
    field = descriptor_pb2.FieldDescriptorProto
    optional, repeated = field.LABEL_OPTIONAL, field.LABEL_REPEATED
    file = descriptor_pb2.FileDescriptorProto(
        name="traceway/zipkin.proto", package="zipkin.proto3", syntax="proto3")

    def message(name: str, fields: list[tuple[str, int, int, int, str]],
                parent: descriptor_pb2.DescriptorProto | None = None,
                ) -> descriptor_pb2.DescriptorProto:
        msg = (parent.nested_type if parent else file.message_type).add(name=name)
        for fname, number, ftype, label, type_name in fields:
            added = msg.field.add(name=fname, number=number, type=ftype, label=label)
            if type_name:
                added.type_name = type_name
        return msg

    message("Endpoint", [("service_name", 1, field.TYPE_STRING, optional, ""),
                         ("ipv4", 2, field.TYPE_BYTES, optional, ""),
                         ("ipv6", 3, field.TYPE_BYTES, optional, ""),
                         ("port", 4, field.TYPE_INT32, optional, "")])
    message("Annotation", [("timestamp", 1, field.TYPE_FIXED64, optional, ""),
                           ("value", 2, field.TYPE_STRING, optional, "")])
    endpoint, annotation = ".zipkin.proto3.Endpoint", ".zipkin.proto3.Annotation"
    span = message("Span", [
        ("trace_id", 1, field.TYPE_BYTES, optional, ""),
        ("parent_id", 2, field.TYPE_BYTES, optional, ""),
        ("id", 3, field.TYPE_BYTES, optional, ""),
        ("kind", 4, field.TYPE_ENUM, optional, ".zipkin.proto3.Span.Kind"),
        ("name", 5, field.TYPE_STRING, optional, ""),
        ("timestamp", 6, field.TYPE_FIXED64, optional, ""),
        ("duration", 7, field.TYPE_UINT64, optional, ""),
        ("local_endpoint", 8, field.TYPE_MESSAGE, optional, endpoint),
        ("remote_endpoint", 9, field.TYPE_MESSAGE, optional, endpoint),
        ("annotations", 10, field.TYPE_MESSAGE, repeated, annotation),
        ("tags", 11, field.TYPE_MESSAGE, repeated, ".zipkin.proto3.Span.TagsEntry"),
        ("debug", 12, field.TYPE_BOOL, optional, ""),
        ("shared", 13, field.TYPE_BOOL, optional, ""),
    ])
    kind = span.enum_type.add(name="Kind")
    for number, name in enumerate(("SPAN_KIND_UNSPECIFIED", "CLIENT", "SERVER", "PRODUCER",
                                   "CONSUMER")):
        kind.value.add(name=name, number=number)
    entry = message("TagsEntry", [("key", 1, field.TYPE_STRING, optional, ""),
                                  ("value", 2, field.TYPE_STRING, optional, "")], parent=span)
    entry.options.map_entry = True
    message("ListOfSpans", [("spans", 1, field.TYPE_MESSAGE, repeated, ".zipkin.proto3.Span")])
    return file


_pool = descriptor_pool.DescriptorPool()
_pool.Add(_zipkin_file())
# Public so that tests and clients can build Zipkin proto bodies.
ListOfSpansProto = message_factory.GetMessageClass(
    _pool.FindMessageTypeByName("zipkin.proto3.ListOfSpans"))
