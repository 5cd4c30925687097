/**
 * Loads every built-in layer codec (each file registers its own on import): the engine's
 * layer families here, the folded shape operators (onnx/import_fold.ts) and the pooling
 * plugins' codecs, which live in each plugin's file (plugins/pooling/*.ts, loaded through
 * plugins/pooling/index.ts).
 *
 * @module
 */
import "./activations.ts";
import "./batchnorm.ts";
import "./binary.ts";
import "./conv.ts";
import "./dropout.ts";
import "./linear.ts";
import "./resize.ts";
import "./shape.ts";
import "../import_fold.ts";
import "../../plugins/pooling/index.ts";
