// Package onnxpb holds Go bindings for the subset of ONNX's protobuf schema
// that pimc reads and writes (onnx.proto beside this file). The generated
// onnx.pb.go is committed so that building pimc needs no protoc.
package onnxpb

// The proto path is the repository root so that the descriptor registers as
// "frontend/onnxpb/onnx.proto", a name no other ONNX binding uses.
//go:generate protoc --proto_path=../.. --go_out=../.. --go_opt=paths=source_relative ../../frontend/onnxpb/onnx.proto
