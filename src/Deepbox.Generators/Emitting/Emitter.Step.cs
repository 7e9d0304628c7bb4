using System.Collections.Generic;
using System.Linq;
using Microsoft.CodeAnalysis.CSharp;

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

    /// <summary>Floats of a step's scratch, kept in the state after its values: a layer's sums, then each head's outputs.</summary>
    private static (int Length, Dictionary<int, int> HeadOffsets) StepScratch(ModelPlan plan)
    {
        int sums = plan.Stages.Where(s => s.Layer.IsRecurrent).Select(s => s.Padded * GateSums(s.Layer, splitGruN: true).Length).DefaultIfEmpty(0).Max();
        var heads = new Dictionary<int, int>();
        int at = sums;
        foreach (StagePlan s in plan.Stages.Where(s => s.Layer.Kind == LayerKind.Linear))
        {
            heads[s.Index] = at;
            at += s.Padded;
        }

        return (at, heads);
    }

    private static void WriteStepApi(SourceWriter w, ModelPlan plan)
    {
        if (!CanStream(plan))
        {
            WriteNoStepApi(w, plan);
            return;
        }

        string k = KernelClass(plan);
        Dictionary<(int Stage, int Layer), (int H, int C)> layout = StateLayout(plan, out int length);
        (int scratch, Dictionary<int, int> _) = StepScratch(plan);
        var segments = new List<string>();
        foreach (StagePlan s in plan.Stages.Where(s => s.Layer.IsRecurrent))
        {
            for (int layer = 0; layer < s.Layer.NumLayers; layer++)
            {
                segments.Add($"{Inv(layout[(s.Index, layer)].H)}, {Inv(s.Layer.HiddenSize)}");
            }

            if (s.Layer.Kind == LayerKind.Lstm)
            {
                for (int layer = 0; layer < s.Layer.NumLayers; layer++)
                {
                    segments.Add($"{Inv(layout[(s.Index, layer)].C)}, {Inv(s.Layer.HiddenSize)}");
                }
            }
        }

        w.Line("/// <summary>The floats a <see cref=\"global::Deepbox.ModelState\"/> of this model holds: each recurrent layer's padded h (and c).</summary>");
        w.Line($"public const int StateLength = {Inv(length)};");
        w.Line();
        w.Line("/// <summary>");
        w.Line("/// This model's states: the padded h (and c) of each layer, then " + Inv(scratch) + " floats a step writes (so concurrent streams share");
        w.Line("/// nothing); <c>Values</c> reads, for each recurrent declaration, h as [num_layers, hidden] then c likewise.");
        w.Line("/// </summary>");
        w.Line($"private static readonly global::Deepbox.StateLayout s_stateLayout = new(\"{plan.Spec.ClassName}\", StateLength, {Inv(scratch)}{string.Concat(segments.Select(x => ", " + x))});");
        w.Line();
        w.Line("/// <summary>");
        w.Line("/// A zero state for streaming one sequence with <see cref=\"Step\"/>. It also brings the weights <c>Step</c> reads");
        w.Line("/// up to date with the parameters (as <c>Forward</c> and <c>LoadStateDict</c> do): after changing parameters in");
        w.Line("/// place, for example with an optimizer, call it (or <c>Forward</c>) before streaming again. Any number of states");
        w.Line("/// may be stepped through this model at once, from any threads; one state belongs to one thread at a time.");
        w.Line("/// </summary>");
        w.Line("/// <returns>A new state, all zeros.</returns>");
        using (w.Block("public global::Deepbox.ModelState CreateState()"))
        {
            w.Line("_exec.Refresh();");
            w.Line("return new global::Deepbox.ModelState(s_stateLayout);");
        }

        w.Line();
        w.Line("/// <summary>");
        w.Line("/// A state restored from <paramref name=\"values\"/>, as <c>ModelState.Values</c> gave them (possibly in another process):");
        w.Line("/// stepping it continues the stream bit for bit as if it had never stopped. Brings the weights up to date as");
        w.Line("/// <see cref=\"CreateState()\"/> does.");
        w.Line("/// </summary>");
        w.Line("/// <param name=\"values\">For each recurrent declaration, h as [num_layers, hidden_size], then c likewise for an LSTM.</param>");
        w.Line("/// <returns>A new state holding those values.</returns>");
        w.Line("/// <exception cref=\"global::System.ArgumentException\">The number of values is not this model's.</exception>");
        using (w.Block($"public global::Deepbox.ModelState CreateState({RoSpan} values)"))
        {
            w.Line("_exec.Refresh();");
            w.Line($"return {S}.CreateState(s_stateLayout, values);");
        }

        w.Line();
        w.Line("/// <summary>");
        w.Line(plan.Embedding is null
            ? "/// Runs one time step of one sequence: reads <paramref name=\"input\"/> (<c>InputSize</c> floats), updates"
            : "/// Runs one time step of one sequence: looks up <paramref name=\"token\"/>'s vector, updates");
        w.Line("/// <paramref name=\"state\"/> and writes <paramref name=\"output\"/> (<c>OutputSize</c> floats). The same numbers as");
        w.Line("/// <c>Forward</c> over the whole sequence, one step at a time; no dropout; allocates nothing. Everything a step writes");
        w.Line("/// is in <paramref name=\"state\"/>: threads may step distinct states through one model at once.");
        w.Line("/// </summary>");
        w.Line(plan.Embedding is null ? "/// <param name=\"input\">This step's features.</param>" : "/// <param name=\"token\">This step's token id, in [0, <see cref=\"NumEmbeddings\"/>).</param>");
        w.Line("/// <param name=\"state\">The sequence's state, from <see cref=\"CreateState\"/>; updated in place.</param>");
        w.Line("/// <param name=\"output\">Receives this step's output.</param>");
        w.Line("// Never inlined (nor its kernel): inlined into a caller's loop compiled with dynamic PGO, a step ran up to 2.7 times slower.");
        w.Line("[global::System.Runtime.CompilerServices.MethodImpl(global::System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]");
        using (w.Block(plan.Embedding is null
            ? $"public void Step({RoSpan} input, global::Deepbox.ModelState state, {Span} output)"
            : $"public void Step(int token, global::Deepbox.ModelState state, {Span} output)"))
        {
            if (plan.Embedding is null)
            {
                w.Line($"{S}.CheckStep(input.Length, InputSize, state, s_stateLayout, output.Length, OutputSize);");
            }
            else
            {
                w.Line($"{S}.CheckStep(1, InputSize, state, s_stateLayout, output.Length, OutputSize);");
                w.Line($"{S}.CheckToken(token, NumEmbeddings);");
            }

            w.Line("Weights w = _exec.StepWeights(out bool counted); // in training mode counted, so a training loop can repack them meanwhile");
            w.Line($"{Span} s = state.AsSpan();");
            w.Line($"{Span} scratch = state.Scratch;");
            if (WideStep(plan))
            {
                using (w.Block($"if ({S}.StepVector512)"))
                {
                    WriteStepCalls(w, plan, layout, k + "512", "16");
                    w.Line("if (counted) _exec.Release(w);");
                    w.Line("return;");
                }

                w.Line();
            }

            WriteStepCalls(w, plan, layout, k, string.Empty);
            w.Line("if (counted) _exec.Release(w);");
        }

        w.Line();
    }

    /// <summary>Step's body: each stage's kernel, from the input to the output (<paramref name="wide"/>: the 16-float weights).</summary>
    private static void WriteStepCalls(SourceWriter w, ModelPlan plan, Dictionary<(int Stage, int Layer), (int H, int C)> layout, string k, string wide)
    {
        (int _, Dictionary<int, int> heads) = StepScratch(plan);
        int sums = heads.Count == 0 ? StepScratch(plan).Length : heads.Values.Min();
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
                    string bhn = l.Kind == LayerKind.Gru ? $"w._bhn{s.Index}_{tag}, " : string.Empty;
                    w.Line($"{k}.{StepName(l, src)}({current}, w._w{s.Index}_{tag}_ih{wide}, w._w{s.Index}_{tag}_hh{wide}, w._b{s.Index}_{tag}{(wide.Length == 0 ? string.Empty : "_" + wide)}, {bhn}{h}, {c}scratch.Slice(0, {Inv(sums)}));");
                    current = h;
                }
            }
            else if (l.Kind == LayerKind.Embedding)
            {
                int table = plan.Parameters.TakeWhile(p => p != s.Parameters[0]).Sum(p => p.Count);
                current = $"w.Snapshot.AsSpan({Inv(table)} + (token * {Inv(l.HiddenSize)}), {Inv(l.HiddenSize)})";
                w.Line($"// The token's vector, read in place from the table.");
            }
            else if (l.Kind == LayerKind.Linear)
            {
                string y = $"scratch.Slice({Inv(heads[s.Index])}, {Inv(s.Padded)})";
                w.Line($"{KernelClass(plan)}.{DenseName(s.Input, s.Padded, l.Activation)}({current}, {Inv(s.Input.RowStride)}, w._w{s.Index}, w._b{s.Index}, {y}, 1);");
                current = y;
            }
            else
            {
                w.Line("// One step is its own last step.");
            }
        }

        w.Line($"{current}.Slice(0, OutputSize).CopyTo(output);");
    }

    /// <summary>
    /// For a model that cannot stream (a bidirectional layer), the streaming members with the reason as a compile-time
    /// error: calling them says why, rather than CS1061's "no definition". They are hidden from completion.
    /// </summary>
    private static void WriteNoStepApi(SourceWriter w, ModelPlan plan)
    {
        StagePlan bi = plan.Stages.First(s => s.Layer.IsRecurrent && s.Layer.Bidirectional);
        string name = bi.Prefix.TrimEnd('.');
        string reason = $"{plan.Spec.ClassName} cannot stream: its {bi.Layer.Kind.ToString().ToUpperInvariant()} layer{(name.Length == 0 ? string.Empty : $" '{name}'")} is bidirectional, "
            + "and the reverse direction starts at the sequence's last step, so every output needs the whole sequence. Run Forward on whole "
            + "sequences, or declare the layer without Bidirectional to stream with CreateState and Step.";
        string literal = SymbolDisplay.FormatLiteral(reason, quote: true);
        string[] members =
        [
            "public global::Deepbox.ModelState CreateState()",
            $"public global::Deepbox.ModelState CreateState({RoSpan} values)",
            plan.Embedding is null ? $"public void Step({RoSpan} input, global::Deepbox.ModelState state, {Span} output)" : $"public void Step(int token, global::Deepbox.ModelState state, {Span} output)",
        ];
        w.Line("/// <summary>Why this model has no streaming members: the message of the errors that stand in for them.</summary>");
        w.Line($"private const string NoStreaming = {literal};");
        w.Line();
        foreach (string member in members)
        {
            w.Line("/// <summary>Not available: see <see cref=\"NoStreaming\"/> (a compile-time error names the reason).</summary>");
            w.Line("[global::System.Obsolete(NoStreaming, error: true)]");
            w.Line("[global::System.ComponentModel.EditorBrowsable(global::System.ComponentModel.EditorBrowsableState.Never)]");
            w.Line($"{member} => throw new global::System.NotSupportedException(NoStreaming);");
            w.Line();
        }
    }
}
