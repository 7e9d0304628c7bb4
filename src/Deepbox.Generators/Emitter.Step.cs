using System.Collections.Generic;
using System.Linq;

namespace Deepbox.Generators;

/// <summary>
/// Streaming: <c>CreateState()</c> and <c>Step</c>, one time step of one sequence with the state carried in a
/// <c>ModelState</c>, allocation-free. Only for models whose recurrent layers all run forward in time (a reverse
/// direction needs the whole sequence).
/// </summary>
internal static partial class Emitter
{
    private static bool CanStream(ModelPlan plan) => plan.Stages.All(s => !s.Layer.IsRecurrent || !s.Layer.Bidirectional);

    /// <summary>
    /// Whether Step also gets 512-bit kernels: a streaming model whose recurrent layers' padded hidden sizes are whole
    /// 16-float vectors (so the state, the biases and every block are the same floats at either width). One block of
    /// 16 instead of two of 8 halves a step's instructions; its chain of dependent operations, which sets the time of a
    /// step of a small layer, stays as long.
    /// </summary>
    private static bool WideStep(ModelPlan plan) =>
        CanStream(plan)
        && plan.Stages.Any(s => s.Layer.IsRecurrent)
        && plan.Stages.Where(s => s.Layer.IsRecurrent).All(s => s.Padded % VectorIsa.V512.Width == 0);

    /// <summary>Where each recurrent layer's h (and c) sit in the state: (stage, layer) → offsets.</summary>
    private static Dictionary<(int Stage, int Layer), (int H, int C)> StateLayout(ModelPlan plan, out int length)
    {
        var layout = new Dictionary<(int, int), (int, int)>();
        length = 0;
        foreach (StagePlan s in plan.Stages.Where(s => s.Layer.IsRecurrent))
        {
            for (int layer = 0; layer < s.Layer.NumLayers; layer++)
            {
                int h = length;
                length += s.Padded;
                int c = -1;
                if (s.Layer.Kind == LayerKind.Lstm)
                {
                    c = length;
                    length += s.Padded;
                }

                layout[(s.Index, layer)] = (h, c);
            }
        }

        return layout;
    }

    private static void WriteStepFields(SourceWriter w, ModelPlan plan)
    {
        if (!CanStream(plan))
        {
            return;
        }

        List<StagePlan> recurrent = plan.Stages.Where(s => s.Layer.IsRecurrent).ToList();
        int sums = recurrent.Select(s => s.Padded * GateSums(s.Layer, splitGruN: true).Length).DefaultIfEmpty(0).Max();
        w.Line("// Step's scratch (a layer's sums before the activations), fixed in size: streaming allocates nothing.");
        w.Line($"private readonly float[] _stepSums = new float[{Inv(sums)}];");
        foreach (StagePlan s in plan.Stages.Where(s => s.Layer.Kind == LayerKind.Linear))
        {
            w.Line($"private readonly float[] _stepY{s.Index} = new float[{Inv(s.Padded)}];");
        }

        w.Line();
    }

    private static void WriteStepApi(SourceWriter w, ModelPlan plan)
    {
        if (!CanStream(plan))
        {
            return;
        }

        string k = KernelClass(plan);
        Dictionary<(int Stage, int Layer), (int H, int C)> layout = StateLayout(plan, out int length);
        w.Line("/// <summary>The floats a <see cref=\"global::Deepbox.ModelState\"/> of this model holds: each recurrent layer's padded h (and c).</summary>");
        w.Line($"public const int StateLength = {Inv(length)};");
        w.Line();
        w.Line("/// <summary>");
        w.Line("/// A zero state for streaming one sequence with <see cref=\"Step\"/>. It also brings the weights <c>Step</c> reads");
        w.Line("/// up to date with the parameters (as <c>Forward</c> and <c>LoadStateDict</c> do): after changing parameters in");
        w.Line("/// place, for example with an optimizer, call it (or <c>Forward</c>) before streaming again.");
        w.Line("/// </summary>");
        w.Line("/// <returns>A new state, all zeros.</returns>");
        using (w.Block("public global::Deepbox.ModelState CreateState()"))
        {
            w.Line("PackWeights();");
            w.Line("return new global::Deepbox.ModelState(StateLength);");
        }

        w.Line();
        w.Line("/// <summary>");
        w.Line("/// Runs one time step of one sequence: reads <paramref name=\"input\"/> (<c>InputSize</c> floats), updates");
        w.Line("/// <paramref name=\"state\"/> and writes <paramref name=\"output\"/> (<c>OutputSize</c> floats). The same numbers as");
        w.Line("/// <c>Forward</c> over the whole sequence, one step at a time; no dropout; allocates nothing.");
        w.Line("/// </summary>");
        w.Line("/// <param name=\"input\">This step's features.</param>");
        w.Line("/// <param name=\"state\">The sequence's state, from <see cref=\"CreateState\"/>; updated in place.</param>");
        w.Line("/// <param name=\"output\">Receives this step's output.</param>");
        w.Line("// Never inlined (nor its kernel): inlined into a caller's loop compiled with dynamic PGO, a step ran up to 2.7 times slower.");
        w.Line("[global::System.Runtime.CompilerServices.MethodImpl(global::System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]");
        using (w.Block($"public void Step({RoSpan} input, global::Deepbox.ModelState state, {Span} output)"))
        {
            w.Line($"{S}.CheckStep(input.Length, InputSize, state, StateLength, output.Length, OutputSize);");
            w.Line($"{Span} s = state.AsSpan();");
            if (WideStep(plan))
            {
                using (w.Block($"if ({S}.StepVector512)"))
                {
                    using (w.Block("if (_packedStepVersion != _packedVersion)"))
                    {
                        w.Line("PackStepWeights(); // the first step on these weights");
                    }

                    WriteStepCalls(w, plan, layout, k + "512", "16");
                    w.Line("return;");
                }

                w.Line();
            }

            WriteStepCalls(w, plan, layout, k, string.Empty);
        }

        w.Line();
    }

    /// <summary>Step's body: each stage's kernel, from the input to the output (<paramref name="wide"/>: the 16-float weights).</summary>
    private static void WriteStepCalls(SourceWriter w, ModelPlan plan, Dictionary<(int Stage, int Layer), (int H, int C)> layout, string k, string wide)
    {
        string current = "input";
        foreach (StagePlan s in plan.Stages)
        {
            LayerSpec l = s.Layer;
            w.Line($"// ({(l.Name ?? Inv(s.Index))}) {s.Describe()}");
            if (l.IsRecurrent)
            {
                int hp = s.Padded;
                for (int layer = 0; layer < l.NumLayers; layer++)
                {
                    RowSource src = s.LayerInput(layer);
                    string tag = Tag(layer, 0);
                    (int hOff, int cOff) = layout[(s.Index, layer)];
                    string h = $"s.Slice({Inv(hOff)}, {Inv(hp)})";
                    string c = l.Kind == LayerKind.Lstm ? $"s.Slice({Inv(cOff)}, {Inv(hp)}), " : string.Empty;
                    string bhn = l.Kind == LayerKind.Gru ? $"_bhn{s.Index}_{tag}, " : string.Empty;
                    w.Line($"{k}.{StepName(l, src)}({current}, _w{s.Index}_{tag}_ih{wide}, _w{s.Index}_{tag}_hh{wide}, _b{s.Index}_{tag}{(wide.Length == 0 ? string.Empty : "_" + wide)}, {bhn}{h}, {c}_stepSums);");
                    current = h;
                }
            }
            else if (l.Kind == LayerKind.Linear)
            {
                w.Line($"{KernelClass(plan)}.{DenseName(s.Input, s.Padded, l.Activation)}({current}, {Inv(s.Input.RowStride)}, _w{s.Index}, _b{s.Index}, _stepY{s.Index}, 1);");
                current = $"_stepY{s.Index}.AsSpan()";
            }
            else
            {
                w.Line("// One step is its own last step.");
            }
        }

        w.Line($"{current}.Slice(0, OutputSize).CopyTo(output);");
    }
}
