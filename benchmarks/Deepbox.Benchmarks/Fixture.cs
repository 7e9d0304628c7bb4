using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.Json;
using Deepbox;

namespace Deepbox.Benchmarks;

/// <summary>
/// The data every peer of one workload runs on, and what Deepbox computes from it: PyTorch-named weights (from a seeded
/// Deepbox model, which are the very weights <c>torch.manual_seed(42)</c> gives), an input, a target for training, and
/// Deepbox's outputs (and, for training, loss and gradients) that every peer must reproduce to <see cref="Tolerance"/>.
/// </summary>
public sealed class Fixture
{
    /// <summary>The largest difference allowed between a peer's outputs and Deepbox's.</summary>
    public const float Tolerance = 1e-4f;

    /// <summary>The seed of every model's weights.</summary>
    public const int WeightSeed = 42;

    /// <summary>Time steps a streaming check runs (the benchmark itself repeats the first step's input).</summary>
    public const int StreamingCheckSteps = 8;

    private Fixture(Workload workload)
    {
        Workload = workload;
    }

    /// <summary>The workload.</summary>
    public Workload Workload { get; }

    /// <summary>Parameters by PyTorch name, in PyTorch's order, with their shapes.</summary>
    public IReadOnlyList<(string Name, int[] Shape, float[] Values)> Weights { get; private set; } = [];

    /// <summary>The input: <c>[B, T, I]</c>, or for streaming <see cref="StreamingCheckSteps"/> steps of <c>I</c> floats.</summary>
    public float[] Input { get; private set; } = [];

    /// <summary>The training target, <c>[B, T, H]</c> (training only).</summary>
    public float[] Target { get; private set; } = [];

    /// <summary>Deepbox's output: <c>[B, T, H]</c>, or for streaming the output of each checked step.</summary>
    public float[] Expected { get; private set; } = [];

    /// <summary>Deepbox's MSE loss of the training step (training only).</summary>
    public float ExpectedLoss { get; private set; }

    /// <summary>Deepbox's parameter gradients of the training step, by PyTorch name (training only).</summary>
    public IReadOnlyDictionary<string, float[]> ExpectedGradients { get; private set; } = new Dictionary<string, float[]>();

    /// <summary>The weight of the given PyTorch name.</summary>
    public float[] Weight(string name) => Weights.First(w => w.Name == name).Values;

    /// <summary>The input of one call of the benchmark: the whole batch, or one step for streaming.</summary>
    public float[] CallInput => Workload.Kind == WorkloadKind.Streaming ? Input[..Workload.InputSize] : Input;

    /// <summary>Creates the fixture of a workload, computing Deepbox's results.</summary>
    public static Fixture Create(Workload workload)
    {
        ArgumentNullException.ThrowIfNull(workload);
        var f = new Fixture(workload);
        IModel model = DeepboxModels.Create(workload, WeightSeed);
        f.Weights = model.NamedParameters().Select(p => (p.Name, p.Parameter.Shape.ToArray(), p.Parameter.Value.ToArray())).ToList();
        var rng = new Random(7);
        int steps = workload.Kind == WorkloadKind.Streaming ? StreamingCheckSteps : workload.Batch * workload.SeqLen;
        f.Input = RandomArray(rng, steps * workload.InputSize);
        switch (workload.Kind)
        {
            case WorkloadKind.Streaming:
            {
                model.Eval();
                ModelState state = DeepboxModels.CreateState(model);
                f.Expected = new float[steps * workload.HiddenSize];
                for (int t = 0; t < steps; t++)
                {
                    DeepboxModels.Step(model, f.Input.AsSpan(t * workload.InputSize, workload.InputSize), state, f.Expected.AsSpan(t * workload.HiddenSize, workload.HiddenSize));
                }

                break;
            }

            case WorkloadKind.Forward:
                model.Eval();
                f.Expected = new float[steps * workload.HiddenSize];
                model.Forward(f.Input, workload.Batch, workload.SeqLen, f.Expected);
                break;

            case WorkloadKind.Training:
            {
                f.Target = RandomArray(rng, steps * workload.HiddenSize);
                model.Train();
                f.Expected = new float[steps * workload.HiddenSize];
                model.Forward(f.Input, workload.Batch, workload.SeqLen, f.Expected);
                var grad = new float[f.Expected.Length];
                f.ExpectedLoss = Losses.Mse(f.Expected, f.Target, grad);
                model.ZeroGrad();
                model.Backward(grad, default);
                f.ExpectedGradients = model.NamedParameters().ToDictionary(p => p.Name, p => p.Parameter.Grad.ToArray());
                break;
            }
        }

        return f;
    }

    /// <summary>Loads the fixture's weights into a fresh Deepbox model of the workload (of another seed, to prove the copy).</summary>
    public IModel CreateDeepboxModel()
    {
        IModel model = DeepboxModels.Create(Workload, WeightSeed + 1);
        model.LoadStateDict(Weights.ToDictionary(w => w.Name, w => Tensor.FromArray((float[])w.Values.Clone(), w.Shape)));
        return model;
    }

    /// <summary>
    /// Writes the fixture for the Node peer: <c>NAME.json</c> (the workload and where each array lies) and <c>NAME.bin</c>
    /// (the float32 arrays back to back, little-endian).
    /// </summary>
    public void Export(string directory)
    {
        Directory.CreateDirectory(directory);
        var arrays = new List<(string Key, float[] Values)>();
        var weights = new Dictionary<string, object>();
        long offset = 0;
        object Add(string key, float[] values, int[] shape)
        {
            arrays.Add((key, values));
            var entry = new Dictionary<string, object> { ["offset"] = offset, ["length"] = values.Length, ["shape"] = shape };
            offset += values.Length * 4L;
            return entry;
        }

        foreach ((string name, int[] shape, float[] values) in Weights)
        {
            weights[name] = Add(name, values, shape);
        }

        Workload w = Workload;
        var meta = new Dictionary<string, object>
        {
            ["name"] = w.Name,
            ["id"] = w.Id,
            ["cell"] = w.Cell.ToString().ToUpperInvariant(),
            ["kind"] = w.Kind.ToString().ToLowerInvariant(),
            ["inputSize"] = w.InputSize,
            ["hiddenSize"] = w.HiddenSize,
            ["batch"] = w.Batch,
            ["seqLen"] = w.SeqLen,
            ["flopsPerCall"] = w.FlopsPerCall,
            ["tolerance"] = Tolerance,
            ["weights"] = weights,
            ["input"] = w.Kind == WorkloadKind.Streaming
                ? Add("input", Input, [StreamingCheckSteps, w.InputSize])
                : Add("input", Input, [w.Batch, w.SeqLen, w.InputSize]),
            ["expected"] = w.Kind == WorkloadKind.Streaming
                ? Add("expected", Expected, [StreamingCheckSteps, w.HiddenSize])
                : Add("expected", Expected, [w.Batch, w.SeqLen, w.HiddenSize]),
        };
        if (w.Kind == WorkloadKind.Training)
        {
            meta["target"] = Add("target", Target, [w.Batch, w.SeqLen, w.HiddenSize]);
            meta["expectedLoss"] = ExpectedLoss;
            var gradients = new Dictionary<string, object>();
            foreach ((string name, int[] shape, _) in Weights)
            {
                gradients[name] = Add("grad:" + name, ExpectedGradients[name], shape);
            }

            meta["expectedGradients"] = gradients;
        }

        File.WriteAllText(Path.Combine(directory, w.Name + ".json"), JsonSerializer.Serialize(meta, new JsonSerializerOptions { WriteIndented = true }));
        using FileStream bin = File.Create(Path.Combine(directory, w.Name + ".bin"));
        foreach ((_, float[] values) in arrays)
        {
            bin.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan()));
        }
    }

    /// <summary>The largest absolute difference of two arrays of the same length.</summary>
    public static float MaxAbsDiff(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        if (a.Length != b.Length)
        {
            throw new ArgumentException($"Lengths differ: {a.Length} and {b.Length}");
        }

        float max = 0;
        for (int i = 0; i < a.Length; i++)
        {
            float d = MathF.Abs(a[i] - b[i]);
            if (!(d <= max))
            {
                max = float.IsNaN(d) ? float.PositiveInfinity : d;
            }
        }

        return max;
    }

    /// <summary>The largest absolute value of an array.</summary>
    public static float MaxAbs(ReadOnlySpan<float> a)
    {
        float max = 0;
        foreach (float v in a)
        {
            max = MathF.Max(max, MathF.Abs(v));
        }

        return max;
    }

    private static float[] RandomArray(Random rng, int length)
    {
        var a = new float[length];
        for (int i = 0; i < a.Length; i++)
        {
            a[i] = (float)(rng.NextDouble() * 2 - 1);
        }

        return a;
    }
}
