// The types of other modules that the facade's API uses, named here so `import CLIPZeroShot` is enough.
// Each file imports only what it aliases (the `Tensor` module also declares a struct `Tensor`, which would hide
// the module name in a file that imports the whole module).

import struct CLIPCore.LoadOptions
import struct CLIPCore.FileReadError
import enum CLIPCore.ConfigError
import enum Tensor.ComputeBackend
import enum Tensor.SafeTensorsError
import enum Tensor.WeightError
import struct CLIPImageIO.RGBImage
import struct CLIPImageIO.ImageDecoder
import enum CLIPImageIO.ImageError
import enum CLIPTokenizer.TokenizerError
import enum TextTransformer.TextInputError

/// How a model is loaded: compute backend, threads, prepared-weights cache.
public typealias LoadOptions = CLIPCore.LoadOptions
/// The kernels a model computes with (`.automatic` picks from the CPU's features).
public typealias ComputeBackend = Tensor.ComputeBackend
/// Decoded RGB8 pixels.
public typealias RGBImage = CLIPImageIO.RGBImage
/// Decodes JPEG, PNG, BMP, GIF, TGA and WebP with size limits.
public typealias ImageDecoder = CLIPImageIO.ImageDecoder
/// Why an image could not be decoded.
public typealias ImageError = CLIPImageIO.ImageError
/// A bad `config.json` or `preprocessor_config.json`.
public typealias ConfigError = CLIPCore.ConfigError
/// A malformed safetensors file.
public typealias SafeTensorsError = Tensor.SafeTensorsError
/// A missing, unknown, mis-shaped or non-finite tensor.
public typealias WeightError = Tensor.WeightError
/// A file that could not be read.
public typealias FileReadError = CLIPCore.FileReadError
/// The tokenizer's vocabulary could not be set up.
public typealias TokenizerError = CLIPTokenizer.TokenizerError
/// A token sequence the text tower cannot take (empty, too long, or an id outside the vocabulary).
public typealias TextInputError = TextTransformer.TextInputError
