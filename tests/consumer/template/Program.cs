using System;
using System.Globalization;
using System.IO;
using System.Linq;
using Deepbox;
using Deepbox.Onnx;

// A model declared the way a user declares one: the package's generator writes its constructors, Forward and
// ParameterCount at build time, so this compiles only if the generator travelled in the package.
var model = new Classifier(seed: 7);
float[] values = Enumerable.Range(0, 2 * 5 * 4).Select(i => MathF.Sin(i * 0.37f)).ToArray();
Tensor output = model.Forward(Tensor.FromArray(values, 2, 5, 4));

float[] result = output.ToArray();
Console.WriteLine($"model: {model}");
Console.WriteLine($"output shape: {Tensor.FormatShape(output.Shape)}");
Console.WriteLine($"parameters: {Classifier.ParameterCount}");
Console.WriteLine($"all finite: {(result.All(float.IsFinite) ? "yes" : "no")}");
Console.WriteLine($"output: {string.Join(" ", result.Select(v => v.ToString("R", CultureInfo.InvariantCulture)))}");

// The second package, Deepbox.Onnx: the same model as an ONNX file, in the folder given (run.sh checks it).
OnnxExport.Save(model, Path.Combine(args.Length > 0 ? args[0] : ".", "classifier.onnx"));
Console.WriteLine("onnx: classifier.onnx written");

/// <summary>An LSTM over 4 features, its last step, and a linear head to 2 outputs.</summary>
[Lstm(4, 8)]
[LastStep]
[Linear(8, 2)]
public partial class Classifier;
