// Package frontend imports ONNX models into pimc's IR.
//
// Layering: frontend imports only ir (plus protobuf and its own ONNX
// bindings in frontend/onnxpb). It never imports passes or interp: the
// small amount of constant evaluation it needs (integer shape arithmetic,
// see fold.go) is built in.
//
// Import decodes the protobuf, rewrites every node from the opset the model
// was written against into the IR's canonical (newest) form, binds symbolic
// dimensions, folds shape computations to constants so that every shape is
// static, then runs ir.InferTypes and ir.Verify. Errors name the file and,
// where there is one, the node, operator, attribute or tensor at fault; the
// importer never panics on malformed input. docs/frontend.md describes the
// supported subset.
package frontend
