// Package dataset reads labelled image test sets and turns them into the
// float32 input tensors a model expects, so that pimc can measure top-1
// accuracy on real data.
//
// Formats: IDX (MNIST, Fashion-MNIST; raw or gzip), CIFAR-10/100 binary
// batches, CSV "label,pixels...", image folders root/<class>/*.jpg|png, the
// same folders packed as .tar, .tar.gz or .tgz, and ONNX test_data_set_N
// folders (through a caller-supplied TensorProto reader). Open detects the
// format from the path and its content; Options.Format overrides it.
//
// Pixels are kept as uint8 in HWC order and preprocessed on demand with
// x = (p*scale - mean[c]) / std[c], in NCHW or NHWC, RGB or BGR. Images
// whose size differs from the model input are an error, never resized.
// Every error names the file (and line, record or entry where relevant).
//
// docs/datasets.md describes the formats, label rules, presets and the
// command-line flags that AddFlags registers.
//
// Layering: dataset imports nothing from pimc, only the standard library.
package dataset
