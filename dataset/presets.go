package dataset

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// Presets are the usual preprocessing per dataset kind (docs/datasets.md
// says which model in ../shared/data uses which). They carry no Layout: the
// layout is a property of the model, not of the data.
var Presets = map[string]Spec{
	// torchvision's MNIST normalization (lenet5_ccoltong1215: 99.13 %).
	"mnist": {C: 1, H: 28, W: 28, Scale: DefaultScale, Mean: []float32{0.1307}, Std: []float32{0.3081}},
	// p/255 (lenet5_bn1d_ccoltong1215: 99.19 %; mnist-8: 98.90 %).
	"mnist-01": {C: 1, H: 28, W: 28, Scale: DefaultScale},
	// raw 0..255 (mnist-8_onnxzoo_cntk: 98.91 %).
	"mnist-raw": {C: 1, H: 28, W: 28, Scale: 1},
	// p/255 (cnn3_edwin19: 90.15 %).
	"fashion-mnist": {C: 1, H: 28, W: 28, Scale: DefaultScale},
	// the usual CIFAR-10 recipe (both ResNet-20s).
	"cifar10": {C: 3, H: 32, W: 32, Scale: DefaultScale,
		Mean: []float32{0.4914, 0.4822, 0.4465}, Std: []float32{0.2023, 0.1994, 0.2010}},
	// p/255, no mean/std (squeezenet_nhwc_emclab, with --layout nhwc).
	"cifar10-01": {C: 3, H: 32, W: 32, Scale: DefaultScale},
	// torchvision's ImageNet normalization at 224x224.
	"imagenet": {C: 3, H: 224, W: 224, Scale: DefaultScale,
		Mean: []float32{0.485, 0.456, 0.406}, Std: []float32{0.229, 0.224, 0.225}},
}

// Preset returns a copy of the named preset, safe to modify.
func Preset(name string) (Spec, error) {
	p, ok := Presets[name]
	if !ok {
		return Spec{}, fmt.Errorf("unknown preset %q (known: %s)", name, strings.Join(PresetNames(), ", "))
	}
	p.Mean, p.Std = slices.Clone(p.Mean), slices.Clone(p.Std)
	return p, nil
}

// PresetNames lists the presets, sorted.
func PresetNames() []string {
	names := make([]string, 0, len(Presets))
	for n := range Presets {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
