using System.Collections.Generic;
using System.Linq;

namespace Deepbox.Generators;

/// <summary>The packed weights: the nested Weights class of a model, packed from a snapshot of its parameters.</summary>
internal static partial class Emitter
{
    /// <summary>The packed weight buffers: (field, length, what it holds).</summary>
    private static IEnumerable<(string Field, int Length, string What)> PackedBuffers(ModelPlan plan)
    {
        foreach (StagePlan s in plan.Stages)
        {
            LayerSpec l = s.Layer;
            int n = l.Gates * s.Padded;
            if (l.IsRecurrent)
            {
                for (int layer = 0; layer < l.NumLayers; layer++)
                {
                    for (int d = 0; d < l.Directions; d++)
                    {
                        string sfx = Inv(layer) + (d == 1 ? "_reverse" : string.Empty);
                        string tag = Tag(layer, d);
                        RowSource src = s.LayerInput(layer);
                        yield return ($"_w{s.Index}_{tag}_ih", src.PackedRows * n, $"{s.Prefix}weight_ih_l{sfx} as [{Inv(src.PackedRows)}][{Inv(n)}]");
                        yield return ($"_w{s.Index}_{tag}_hh", l.HiddenSize * n, $"{s.Prefix}weight_hh_l{sfx} as [{Inv(l.HiddenSize)}][{Inv(n)}]");
                        yield return ($"_b{s.Index}_{tag}", n, l.Kind == LayerKind.Gru
                            ? "b_ih + b_hh for r and z, b_in for n"
                            : (l.Bias ? "b_ih + b_hh" : "zeros (no bias)"));
                        if (l.Kind == LayerKind.Gru)
                        {
                            yield return ($"_bhn{s.Index}_{tag}", s.Padded, "b_hn, kept apart: it sits inside r * (W_hn h + b_hn)");
                        }

                    }
                }
            }
            else if (l.Kind == LayerKind.Linear)
            {
                yield return ($"_w{s.Index}", s.Input.PackedRows * s.Padded, $"{s.Prefix}weight as [{Inv(s.Input.PackedRows)}][{Inv(s.Padded)}]");
                yield return ($"_b{s.Index}", s.Padded, l.Bias ? $"{s.Prefix}bias" : "zeros (no bias)");
            }
        }
    }

    /// <summary>The parameters' slices of a snapshot (all parameter values, in order), by name within the stage.</summary>
    private static Dictionary<string, string> SnapshotSlices(ModelPlan plan, StagePlan s, string snapshot)
    {
        var offsets = new Dictionary<string, int>();
        int at = 0;
        foreach (ParamPlan p in plan.Parameters)
        {
            offsets[p.Name] = at;
            at += p.Count;
        }

        return s.Parameters.ToDictionary(x => x.Name.Substring(s.Prefix.Length), x => $"{snapshot}.AsSpan({Inv(offsets[x.Name])}, {Inv(x.Count)})");
    }

    /// <summary>
    /// The packed weights, a nested class: the buffers the kernels read, packed from a snapshot of the parameters that
    /// <c>ModelExecution</c> publishes once packed and never repacks while a pass reads it.
    /// </summary>
    private static void WriteWeightsClass(SourceWriter w, ModelPlan plan)
    {
        int v = plan.Isa.Width;
        w.Line();
        w.Line("/// <summary>");
        w.Line("/// The weights in the layout the kernels read (input-major panels, gates side by side per block of " + Inv(v) + " units, biases");
        w.Line("/// pre-summed where legal), packed from <c>Snapshot</c>, the parameters' values at the time.");
        w.Line("/// </summary>");
        w.Line(GeneratedCode);
        using (w.Block("private sealed class Weights : global::Deepbox.CompilerServices.PackedWeights"))
        {
            foreach ((string field, int length, string what) in PackedBuffers(plan))
            {
                w.Line($"public readonly global::Deepbox.CompilerServices.AlignedBuffer {field} = new({Inv(length)}); // {what}");
            }

            foreach ((string field, int _, string what) in StepWideBuffers(plan))
            {
                w.Line($"public global::Deepbox.CompilerServices.AlignedBuffer {field} = global::Deepbox.CompilerServices.AlignedBuffer.Empty; // {what}");
            }

            w.Line();
            w.Line("public Weights()");
            w.Line($"    : base({Inv(plan.Parameters.Sum(p => p.Count))})");
            w.Line("{");
            w.Line("}");
            w.Line();
            w.Line("/// <summary>Packs the snapshot (PyTorch's layout) into the layout the kernels read.</summary>");
            using (w.Block("protected override void Pack()"))
            {
                foreach (StagePlan s in plan.Stages)
                {
                    WritePackStage(w, plan, s, v, wide: string.Empty);
                }
            }

            if (WideStep(plan))
            {
                w.Line();
                w.Line("/// <summary>");
                w.Line("/// Packs the weights of Step's 512-bit kernels (blocks of 16) from the same snapshot, before the first step on these");
                w.Line("/// weights: a model that never streams never allocates or packs them.");
                w.Line("/// </summary>");
                using (w.Block("protected override void PackForStep()"))
                {
                    foreach ((string field, int length, string _) in StepWideBuffers(plan))
                    {
                        w.Line($"{S}.Ensure(ref {field}, {Inv(length)});");
                    }

                    foreach (StagePlan s in plan.Stages.Where(s => s.Layer.IsRecurrent))
                    {
                        WritePackStage(w, plan, s, VectorIsa.V512.Width, wide: "16");
                    }
                }
            }
        }
    }

    /// <summary>One stage's packing calls, at vector width <paramref name="v"/> (the 16-float blocks when <paramref name="wide"/> is "16").</summary>
    private static void WritePackStage(SourceWriter w, ModelPlan plan, StagePlan s, int v, string wide)
    {
        LayerSpec l = s.Layer;
        Dictionary<string, string> p = SnapshotSlices(plan, s, "Snapshot");
        if (l.IsRecurrent)
        {
            int folded = l.Kind switch { LayerKind.Lstm => 4, LayerKind.Gru => 2, _ => 1 };
            for (int layer = 0; layer < l.NumLayers; layer++)
            {
                RowSource src = s.LayerInput(layer);
                for (int d = 0; d < l.Directions; d++)
                {
                    string sfx = Inv(layer) + (d == 1 ? "_reverse" : string.Empty);
                    string tag = Tag(layer, d);
                    w.Line($"{S}.PackGateInterleaved({p["weight_ih_l" + sfx]}, {Inv(l.Gates)}, {Inv(l.HiddenSize)}, {Inv(src.Width)}, {Inv(v)}, {Inv(src.SegmentWidth)}, {Inv(src.SegmentStride)}, _w{s.Index}_{tag}_ih{wide});");
                    w.Line($"{S}.PackGateInterleaved({p["weight_hh_l" + sfx]}, {Inv(l.Gates)}, {Inv(l.HiddenSize)}, {Inv(l.HiddenSize)}, {Inv(v)}, {Inv(l.HiddenSize)}, {Inv(l.HiddenSize)}, _w{s.Index}_{tag}_hh{wide});");
                    if (l.Bias)
                    {
                        w.Line($"{S}.PackGateBias({p["bias_ih_l" + sfx]}, {p["bias_hh_l" + sfx]}, {Inv(l.Gates)}, {Inv(l.HiddenSize)}, {Inv(v)}, {Inv(folded)}, _b{s.Index}_{tag}{(wide.Length == 0 ? string.Empty : "_" + wide)});");
                        if (l.Kind == LayerKind.Gru && wide.Length == 0)
                        {
                            w.Line($"{p["bias_hh_l" + sfx]}.Slice({Inv(2 * l.HiddenSize)}, {Inv(l.HiddenSize)}).CopyTo(_bhn{s.Index}_{tag});");
                        }
                    }
                }
            }
        }
        else if (l.Kind == LayerKind.Linear)
        {
            RowSource src = s.Input;
            w.Line($"{S}.PackGateInterleaved({p["weight"]}, 1, {Inv(l.HiddenSize)}, {Inv(src.Width)}, {Inv(v)}, {Inv(src.SegmentWidth)}, {Inv(src.SegmentStride)}, _w{s.Index});");
            if (l.Bias)
            {
                w.Line($"{S}.PackGateBias({p["bias"]}, default, 1, {Inv(l.HiddenSize)}, {Inv(v)}, 0, _b{s.Index});");
            }
        }
    }

    /// <summary>The weights of Step's 512-bit kernels: (field, length, what), allocated by the first PackStepWeights.</summary>
    private static IEnumerable<(string Field, int Length, string What)> StepWideBuffers(ModelPlan plan)
    {
        if (!WideStep(plan))
        {
            yield break;
        }

        foreach (StagePlan s in plan.Stages.Where(s => s.Layer.IsRecurrent))
        {
            int n = s.Layer.Gates * s.Padded;
            for (int layer = 0; layer < s.Layer.NumLayers; layer++)
            {
                string tag = Tag(layer, 0);
                yield return ($"_w{s.Index}_{tag}_ih16", s.LayerInput(layer).PackedRows * n, $"_w{s.Index}_{tag}_ih in blocks of 16, for Step's 512-bit kernels");
                yield return ($"_w{s.Index}_{tag}_hh16", s.Layer.HiddenSize * n, $"_w{s.Index}_{tag}_hh in blocks of 16");
                yield return ($"_b{s.Index}_{tag}_16", n, $"_b{s.Index}_{tag} in blocks of 16");
            }
        }
    }
}
