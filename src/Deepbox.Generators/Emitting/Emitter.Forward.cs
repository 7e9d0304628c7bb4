using System.Collections.Generic;
using System.Linq;

namespace Deepbox.Generators;

/// <summary>The forward pass: public entry points, shape checks, workspace, weight packing and the stage sequence.</summary>
internal static partial class Emitter
{
    /// <summary>Whether a recurrent layer applies dropout between its stacked layers (in training).</summary>
    private static bool HasDropout(LayerSpec l) => l.IsRecurrent && l.Dropout > 0 && l.NumLayers > 1;

    private static string Tag(int layer, int direction) => Inv(layer) + (direction == 1 ? "r" : string.Empty);

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

    /// <summary>The workspace buffers: (field, length expression over <c>rows</c> and <c>batch</c>, what).</summary>
    private static IEnumerable<(string Field, string Length, string What)> Workspace(ModelPlan plan)
    {
        yield return ("_x", $"rows * {Inv(plan.InputSize)}", "the input as time-major rows [T, B, I]");
        foreach (StagePlan s in plan.Stages)
        {
            LayerSpec l = s.Layer;
            if (l.IsRecurrent)
            {
                int states = l.NumLayers * l.Directions;
                for (int layer = 0; layer < l.NumLayers; layer++)
                {
                    yield return ($"_seq{s.Index}_{Inv(layer)}", $"rows * {Inv(l.Directions * s.Padded)}", $"({Inv(s.Index)}) layer {Inv(layer)} hidden states [T, B, {(l.Directions == 2 ? "2 x " : string.Empty)}{Inv(s.Padded)}]");
                }

                yield return ($"_gx{s.Index}", $"{(states == 1 ? string.Empty : $"(_training ? {Inv(states)} : 1) * ")}rows * {Inv(l.Gates * s.Padded)}", $"({Inv(s.Index)}) input products of every step [T, B, {Inv(l.Gates * s.Padded)}], overwritten by the gate activations (one per layer and direction in training, for Backward)");
                yield return ($"_h0_{s.Index}", $"batch * {Inv(states * s.Padded)}", $"({Inv(s.Index)}) initial hidden states [{Inv(states)}, B, {Inv(s.Padded)}]");
                if (l.Kind == LayerKind.Lstm)
                {
                    yield return ($"_c{s.Index}", $"batch * {Inv(states * s.Padded)}", $"({Inv(s.Index)}) initial cell states [{Inv(states)}, B, {Inv(s.Padded)}]");
                    yield return ($"_aux{s.Index}", $"rows * {Inv(states * s.Padded)}", $"({Inv(s.Index)}) cell state of every step [{Inv(states)}, T, B, {Inv(s.Padded)}]");
                }
                else if (l.Kind == LayerKind.Gru)
                {
                    yield return ($"_aux{s.Index}", $"rows * {Inv(states * s.Padded)}", $"({Inv(s.Index)}) W_hn h + b_hn of every step [{Inv(states)}, T, B, {Inv(s.Padded)}], for Backward");
                }

                if (HasDropout(l))
                {
                    for (int layer = 1; layer < l.NumLayers; layer++)
                    {
                        yield return ($"_mask{s.Index}_{Inv(layer)}", $"rows * {Inv(l.Directions * s.Padded)}", $"({Inv(s.Index)}) dropout mask on the input of layer {Inv(layer)} (training)");
                        yield return ($"_drop{s.Index}_{Inv(layer)}", $"rows * {Inv(l.Directions * s.Padded)}", $"({Inv(s.Index)}) the input of layer {Inv(layer)} after dropout (training)");
                    }
                }
            }
            else if (l.Kind == LayerKind.Linear)
            {
                yield return ($"_y{s.Index}", $"{(s.Input.Collapsed ? "batch" : "rows")} * {Inv(s.Padded)}", $"({Inv(s.Index)}) outputs [{(s.Input.Collapsed ? "B" : "T, B")}, {Inv(s.Padded)}]");
            }
        }
    }

    private static void WriteForwardApi(SourceWriter w, ModelPlan plan)
    {
        string inShape = "[*, *, " + Inv(plan.InputSize) + "]";
        w.Line("/// <summary>");
        w.Line("/// Runs the model on <paramref name=\"input\"/>: <c>" + (plan.Spec.BatchFirst ? "[B, T, " : "[T, B, ") + Inv(plan.InputSize) + "]</c>, or unbatched <c>[T, " + Inv(plan.InputSize) + "]</c>.");
        w.Line("/// Initial states are zero.");
        WriteConcurrencyDoc(w);
        w.Line("/// </summary>");
        w.Line("/// <param name=\"input\">The input sequence(s).</param>");
        w.Line("/// <returns>A new tensor, <c>" + OutputShapeText(plan) + "</c> (unbatched input drops the <c>B</c>).</returns>");
        w.Line($"/// <exception cref=\"global::System.ArgumentException\">The input shape is not <c>{inShape}</c> or <c>[*, {Inv(plan.InputSize)}]</c>.</exception>");
        using (w.Block($"public {T} Forward({T} input)"))
        {
            w.Line("(int batch, int seqLen, bool unbatched) = CheckInput(input);");
            w.Line($"{T} output = {T}.Zeros(OutputShape(batch, seqLen, unbatched));");
            w.Line("Run(input.AsSpan(), batch, seqLen, default, default, output.AsSpan(), default, default, unbatched);");
            w.Line("return output;");
        }

        w.Line();
        StagePlan? state = plan.StateStage;
        if (state is not null)
        {
            WriteForwardWithState(w, plan, state);
        }

        w.Line("/// <summary>");
        w.Line("/// Runs the model on a caller-owned sequence batch (<c>" + (plan.Spec.BatchFirst ? "[B, T, " : "[T, B, ") + Inv(plan.InputSize) + "]</c>, row-major) into caller-owned");
        w.Line("/// memory (<c>" + OutputShapeText(plan) + "</c>), with zero initial states. Allocates nothing once the workspaces (one per");
        w.Line("/// concurrent caller) have grown to the largest batch and length seen.");
        WriteConcurrencyDoc(w);
        w.Line("/// </summary>");
        w.Line("/// <param name=\"input\">The input values.</param>");
        w.Line("/// <param name=\"batch\">Sequences in the batch.</param>");
        w.Line("/// <param name=\"seqLen\">Time steps per sequence.</param>");
        w.Line("/// <param name=\"output\">Receives the output values; its length must match exactly.</param>");
        using (w.Block($"public void Forward({RoSpan} input, int batch, int seqLen, {Span} output)"))
        {
            w.Line($"{S}.CheckSequenceSizes(batch, seqLen);");
            w.Line($"{S}.CheckLength(\"input\", input.Length, batch, seqLen, InputSize);");
            w.Line($"{S}.CheckLength(\"output\", output.Length, batch, {(plan.HasLastStep ? "1" : "seqLen")}, OutputSize);");
            w.Line("Run(input, batch, seqLen, default, default, output, default, default, unbatched: false);");
        }

        w.Line();
        w.Line($"private static (int Batch, int SeqLen, bool Unbatched) CheckInput({T} input) => {S}.CheckInput(input, InputSize, BatchFirst);");
        w.Line();
        using (w.Block("private static int[] OutputShape(int batch, int seqLen, bool unbatched)"))
        {
            if (plan.HasLastStep)
            {
                w.Line("return unbatched ? [OutputSize] : [batch, OutputSize];");
            }
            else
            {
                w.Line($"return unbatched ? [seqLen, OutputSize] : [{(plan.Spec.BatchFirst ? "batch, seqLen" : "seqLen, batch")}, OutputSize];");
            }
        }

        w.Line();
    }

    /// <summary>What the docs of every Forward say about threads.</summary>
    private static void WriteConcurrencyDoc(SourceWriter w)
    {
        w.Line("/// In evaluation mode any number of threads may call it on this model at once, each getting what it would alone;");
        w.Line("/// in training mode one caller at a time (an overlapping training-mode call throws <see cref=\"global::System.InvalidOperationException\"/>).");
    }

    private static string OutputShapeText(ModelPlan plan) => plan.HasLastStep
        ? "[B, " + Inv(plan.OutputSize) + "]"
        : (plan.Spec.BatchFirst ? "[B, T, " : "[T, B, ") + Inv(plan.OutputSize) + "]";

    private static void WriteForwardWithState(SourceWriter w, ModelPlan plan, StagePlan state)
    {
        LayerSpec l = state.Layer;
        bool lstm = l.Kind == LayerKind.Lstm;
        int states = l.NumLayers * l.Directions;
        string stateShape = $"[{Inv(states)}, B, {Inv(l.HiddenSize)}]";
        w.Line("/// <summary>");
        w.Line("/// Runs the model from given initial states and returns the final ones too, as PyTorch's " + state.CellName + " does.");
        WriteConcurrencyDoc(w);
        w.Line($"/// States are <c>{stateShape}</c> (<c>[num_layers * directions, B, H]</c>; unbatched <c>[{Inv(states)}, {Inv(l.HiddenSize)}]</c>).");
        w.Line("/// </summary>");
        w.Line("/// <param name=\"input\">The input sequence(s).</param>");
        w.Line("/// <param name=\"h0\">The initial hidden states, or null for zeros.</param>");
        if (lstm)
        {
            w.Line("/// <param name=\"c0\">The initial cell states, or null for zeros.</param>");
        }

        w.Line("/// <returns>The output and the final states.</returns>");
        string ret = lstm ? $"({T} Output, ({T} H, {T} C))" : $"({T} Output, {T} H)";
        string args = lstm ? $"{T} input, {T}? h0 = null, {T}? c0 = null" : $"{T} input, {T}? h0 = null";
        using (w.Block($"public {ret} ForwardWithState({args})"))
        {
            w.Line("(int batch, int seqLen, bool unbatched) = CheckInput(input);");
            w.Line($"int[] stateShape = unbatched ? [{Inv(states)}, {Inv(l.HiddenSize)}] : [{Inv(states)}, batch, {Inv(l.HiddenSize)}];");
            w.Line($"{S}.CheckState(\"h0\", h0, stateShape);");
            if (lstm)
            {
                w.Line($"{S}.CheckState(\"c0\", c0, stateShape);");
            }

            w.Line($"{T} output = {T}.Zeros(OutputShape(batch, seqLen, unbatched));");
            w.Line($"{T} h = {T}.Zeros(stateShape);");
            if (lstm)
            {
                w.Line($"{T} c = {T}.Zeros(stateShape);");
                w.Line("Run(input.AsSpan(), batch, seqLen, h0 is null ? default : h0.AsSpan(), c0 is null ? default : c0.AsSpan(), output.AsSpan(), h.AsSpan(), c.AsSpan(), unbatched);");
                w.Line("return (output, (h, c));");
            }
            else
            {
                w.Line("Run(input.AsSpan(), batch, seqLen, h0 is null ? default : h0.AsSpan(), default, output.AsSpan(), h.AsSpan(), default, unbatched);");
                w.Line("return (output, h);");
            }
        }

        w.Line();
    }

    private static void WriteRun(SourceWriter w, ModelPlan plan)
    {
        w.Line("/// <summary>");
        w.Line("/// The pass; every argument has been checked. Empty states mean zeros / not wanted. In evaluation mode it runs on a");
        w.Line("/// workspace of its own and on weights no one repacks meanwhile, so any number of callers may run it at once; in");
        w.Line("/// training mode on the training workspace, which keeps what Backward needs, one caller at a time.");
        w.Line("/// </summary>");
        using (w.Block($"private void Run({RoSpan} input, int batch, int seqLen, {RoSpan} h0, {RoSpan} c0, {Span} output, {Span} hN, {Span} cN, bool unbatched)"))
        {
            using (w.Block("if (!_exec.IsTraining)"))
            {
                w.Line("Weights weights = _exec.Acquire();");
                w.Line("Workspace pass = _exec.Rent();");
                using (w.Block("try"))
                {
                    w.Line("pass.Forward(weights, training: false, _exec.Threads, input, batch, seqLen, h0, c0, output, hN, cN);");
                }

                using (w.Block("finally"))
                {
                    w.Line("_exec.Return(pass);");
                    w.Line("_exec.Release(weights);");
                }

                w.Line("return;");
            }

            w.Line();
            w.Line("Workspace training = _exec.EnterTrainingPass();");
            using (w.Block("try"))
            {
                w.Line("training.Forward(_exec.BeginTrainingForward(), training: true, _exec.Threads, input, batch, seqLen, h0, c0, output, hN, cN);");
                w.Line("_exec.EndTrainingForward(batch, seqLen, unbatched); // everything Backward reads stays in the training workspace");
            }

            using (w.Block("finally"))
            {
                w.Line("_exec.ExitTrainingPass();");
            }
        }
    }

    /// <summary>The workspace's forward pass: the stages in order, each recurrent one split across threads by sequences.</summary>
    private static void WriteWorkspaceRun(SourceWriter w, ModelPlan plan)
    {
        string k = KernelClass(plan);
        w.Line("/// <summary>Runs the model on <paramref name=\"weights\"/>; the activations stay here (for Backward, in training).</summary>");
        using (w.Block($"public void Forward(Weights weights, bool training, int threads, {RoSpan} input, int batch, int seqLen, {RoSpan} h0, {RoSpan} c0, {Span} output, {Span} hN, {Span} cN)"))
        {
            w.Line("W = weights;");
            w.Line("_training = training;");
            if (HasJobs(plan))
            {
                w.Line("_threads = threads;");
            }

            w.Line("EnsureWorkspace(batch, seqLen);");
            w.Line($"{S}.ToTimeMajor(input, InputSize, batch, seqLen, BatchFirst, _x);");
            StagePlan? first = plan.FirstRecurrent;
            foreach (StagePlan s in plan.Stages)
            {
                w.Line($"// ({(s.Layer.Name ?? Inv(s.Index))}) {s.Describe()}");
                switch (s.Layer.Kind)
                {
                    case LayerKind.LastStep:
                        w.Line("// Later stages read the rows of the last time step only.");
                        break;
                    case LayerKind.Linear:
                        w.Line($"{k}.{DenseName(s.Input, s.Padded, s.Layer.Activation)}({Slice(s.Input)}, {Inv(s.Input.RowStride)}, W._w{s.Index}, W._b{s.Index}, _y{s.Index}, {(s.Input.Collapsed ? "batch" : "batch * seqLen")});");
                        break;
                    default:
                        w.Line(s == first
                            ? $"Stage{s.Index}(batch, seqLen, h0, c0, hN, cN);"
                            : $"Stage{s.Index}(batch, seqLen, default, default, default, default);");
                        break;
                }
            }

            RowSource o = plan.Output;
            w.Line("// The output in the caller's layout.");
            w.Line($"{S}.FromTimeMajor({Slice(o)}, {Inv(o.RowStride)}, {Inv(o.SegmentWidth)}, {Inv(o.SegmentStride)}, {Inv(o.Segments)}, batch, {(o.Collapsed ? "1" : "seqLen")}, BatchFirst, output);");
        }

        w.Line();
        foreach (StagePlan s in plan.Stages.Where(s => s.Layer.IsRecurrent))
        {
            WriteRecurrentStage(w, plan, s);
        }

        WriteEnsureWorkspace(w, plan);
        WriteJobs(w, plan);
    }

    /// <summary>Whether the model has kernel calls split across threads (<see cref="WriteJobs"/>): it has a recurrent layer.</summary>
    private static bool HasJobs(ModelPlan plan) => plan.Stages.Any(s => s.Layer.IsRecurrent);

    /// <summary>Every (stage, layer, direction) of the recurrent layers, in the order of the forward pass.</summary>
    private static IEnumerable<(StagePlan Stage, int Layer, int Direction)> JobSites(ModelPlan plan) =>
        from s in plan.Stages
        where s.Layer.IsRecurrent
        from layer in Enumerable.Range(0, s.Layer.NumLayers)
        from d in Enumerable.Range(0, s.Layer.Directions)
        select (s, layer, d);

    /// <summary>The job number of a layer and direction: its input products and its recurrence.</summary>
    private static int JobIndex(ModelPlan plan, StagePlan s, int layer, int d) =>
        JobSites(plan).TakeWhile(j => !(j.Stage == s && j.Layer == layer && j.Direction == d)).Count();

    /// <summary>
    /// The forward pass's heavy work per layer and direction, as one job <c>Workers</c> splits across threads by
    /// sequences: each thread computes the input products of its own sequences a chunk of steps at a time, then runs
    /// their recurrence over that chunk. No barrier per step or per chunk, and each thread reads back the products it
    /// wrote, from its own core's cache. Every row and sequence is computed by the same code whichever thread runs it,
    /// so the results do not depend on <c>Threads</c>.
    /// </summary>
    private static void WriteJobs(SourceWriter w, ModelPlan plan)
    {
        if (!HasJobs(plan))
        {
            return;
        }

        string k = KernelClass(plan);
        w.Line();
        w.Line("/// <summary>Runs job <paramref name=\"job\"/> (a layer and direction) over <paramref name=\"batch\"/> sequences of <paramref name=\"seqLen\"/> steps, split across <see cref=\"Threads\"/> threads (4 or more sequences each).</summary>");
        using (w.Block("private void Fork(int job, int batch, int seqLen)"))
        {
            w.Line("_job = job;");
            w.Line("_jobBatch = batch;");
            w.Line("_jobSeqLen = seqLen;");
            w.Line("global::Deepbox.CompilerServices.Workers.Run(this, global::System.Math.Max(1, global::System.Math.Min(_threads, batch / 4)));");
        }

        w.Line();
        w.Line("/// <summary>Part <paramref name=\"part\"/> of <paramref name=\"parts\"/> of the current job: its share of the sequences, from the input products to the last step.</summary>");
        using (w.Block("void global::Deepbox.CompilerServices.IPartitioned.RunPart(int part, int parts)"))
        {
            w.Line("int batch = _jobBatch;");
            w.Line("int seqLen = _jobSeqLen;");
            w.Line("int rows = batch * seqLen;");
            w.Line("int b0 = global::Deepbox.CompilerServices.Workers.Split(batch, part, parts);");
            w.Line("int b1 = global::Deepbox.CompilerServices.Workers.Split(batch, part + 1, parts);");
            using (w.Block("switch (_job)"))
            {
                int job = 0;
                foreach ((StagePlan s, int layer, int d) in JobSites(plan))
                {
                    LayerSpec l = s.Layer;
                    int hp = s.Padded;
                    int n = l.Gates * hp;
                    int d2 = l.Directions;
                    int index = (layer * d2) + d;
                    string tag = Tag(layer, d);
                    RowSource src = s.LayerInput(layer);
                    string stride = Inv(src.RowStride);
                    string dense = $"{k}.{DenseName(src, n, ActivationKind.None, panel: InputPanel(plan, l))}";
                    string weights = $"W._w{s.Index}_{tag}_ih, W._b{s.Index}_{tag}";
                    // Training keeps every layer's and direction's gates for Backward; evaluation reuses the first slot.
                    string gxAt = index == 0 ? "0" : $"_training ? {Inv(index)} * rows * {Inv(n)} : 0";
                    string stateOffset = $"{Inv(index)} * batch * {Inv(hp)}";
                    string extra = l.Kind switch
                    {
                        LayerKind.Gru => $"W._bhn{s.Index}_{tag}, _h0_{s.Index}.AsSpan({stateOffset}), _aux{s.Index}.AsSpan({Inv(index)} * rows * {Inv(hp)}), ",
                        LayerKind.Lstm => $"_h0_{s.Index}.AsSpan({stateOffset}), _c{s.Index}.AsSpan({stateOffset}), _aux{s.Index}.AsSpan({Inv(index)} * rows * {Inv(hp)}), ",
                        _ => $"_h0_{s.Index}.AsSpan({stateOffset}), ",
                    };
                    using (w.Block($"case {Inv(job)}: // ({(l.Name ?? Inv(s.Index))}) layer {Inv(layer)}, {(d == 0 ? "forward" : "reverse")}"))
                    {
                        w.Line($"int gx = {gxAt};");
                        w.Line($"// The input products go {Inv(StepChunkFloats / 1024 * 4)} KB at a time (at least one step), each chunk just before the recurrence");
                        w.Line("// reads it: in cache, where computing them all first would send the whole buffer to memory and back.");
                        w.Line($"int steps = global::System.Math.Max(1, {Inv(StepChunkFloats / n)} / batch);");
                        using (w.Block("for (int s0 = 0; s0 < seqLen; s0 += steps)"))
                        {
                            w.Line("int s1 = global::System.Math.Min(seqLen, s0 + steps);");
                            w.Line(d == 0
                                ? "int t0 = s0; // the chunk's time steps [t0, t1)"
                                : "int t0 = seqLen - s1; // the chunk's time steps [t0, t1): steps are counted from the end");
                            w.Line(d == 0 ? "int t1 = s1;" : "int t1 = seqLen - s0;");
                            w.Line("// The input products of this part's sequences: one call when they are the whole batch (the chunk's rows");
                            w.Line("// are then contiguous), else one per time step.");
                            using (w.Block("if (b1 - b0 == batch)"))
                            {
                                w.Line($"{dense}(_jobInput.AsSpan(t0 * batch * {stride}), {stride}, {weights}, _gx{s.Index}.AsSpan(gx + (t0 * batch * {Inv(n)})), (t1 - t0) * batch);");
                            }

                            using (w.Block("else"))
                            {
                                using (w.Block("for (int t = t0; t < t1; t++)"))
                                {
                                    w.Line($"{dense}(_jobInput.AsSpan(((t * batch) + b0) * {stride}), {stride}, {weights}, _gx{s.Index}.AsSpan(gx + (((t * batch) + b0) * {Inv(n)})), b1 - b0);");
                                }
                            }

                            w.Line();
                            w.Line($"{k}.{SequenceName(l, l.HiddenSize)}(_gx{s.Index}.AsSpan(gx), W._w{s.Index}_{tag}_hh, {extra}_seq{s.Index}_{Inv(layer)}.AsSpan({Inv(d * hp)}), {Inv(d2 * hp)}, batch, seqLen, reverse: {(d == 1 ? "true" : "false")}, s0, s1, b0, b1);");
                        }

                        w.Line("break;");
                    }

                    job++;
                }
            }
        }
    }

    /// <summary>The span a stage reads: the whole buffer, or from the first row of the last time step.</summary>
    private static string Slice(RowSource src) => src.LastStepOnly
        ? $"{src.Buffer}.AsSpan((seqLen - 1) * batch * {Inv(src.RowStride)})"
        : src.Buffer;

    /// <summary>Floats of input products computed ahead of the recurrence at a time (1 MB, the L2 of the cores measured).</summary>
    private const int StepChunkFloats = 256 * 1024;

    private static void WriteRecurrentStage(SourceWriter w, ModelPlan plan, StagePlan s)
    {
        string k = KernelClass(plan);
        LayerSpec l = s.Layer;
        int d2 = l.Directions;
        int hp = s.Padded;
        int h = l.HiddenSize;
        int states = l.NumLayers * d2;
        bool lstm = l.Kind == LayerKind.Lstm;
        w.Line($"/// <summary>({(l.Name ?? Inv(s.Index))}) {s.Describe()}: every layer and direction, input products first, then the recurrence.</summary>");
        using (w.Block($"private void Stage{s.Index}(int batch, int seqLen, {RoSpan} h0, {RoSpan} c0, {Span} hN, {Span} cN)"))
        {
            w.Line("int rows = batch * seqLen;");
            w.Line($"int stateRows = {Inv(states)} * batch;");
            w.Line($"// Initial states: a row of {Inv(hp)} floats per (layer, direction, sequence), zeros unless given.");
            w.Line($"_h0_{s.Index}.AsSpan(0, stateRows * {Inv(hp)}).Clear();");
            w.Line($"if (!h0.IsEmpty) {S}.CopyRows(h0, {Inv(h)}, _h0_{s.Index}, {Inv(hp)}, {Inv(h)}, stateRows);");
            if (lstm)
            {
                w.Line($"_c{s.Index}.AsSpan(0, stateRows * {Inv(hp)}).Clear();");
                w.Line($"if (!c0.IsEmpty) {S}.CopyRows(c0, {Inv(h)}, _c{s.Index}, {Inv(hp)}, {Inv(h)}, stateRows);");
            }

            string seqKernel = SequenceName(l, h);
            for (int layer = 0; layer < l.NumLayers; layer++)
            {
                RowSource src = s.LayerInput(layer);
                string srcBuffer = src.Buffer;
                if (layer > 0 && HasDropout(l))
                {
                    srcBuffer = $"input{Inv(layer)}";
                    w.Line($"// Dropout p = {l.Dropout.ToString("R", System.Globalization.CultureInfo.InvariantCulture)} on the input of layer {Inv(layer)}, in training only (inverted: kept values scaled by 1 / (1 - p)).");
                    w.Line($"global::Deepbox.CompilerServices.AlignedBuffer {srcBuffer} = {src.Buffer};");
                    using (w.Block("if (_training)"))
                    {
                        w.Line($"{S}.DropoutMask(_model._dropout, {l.Dropout.ToString("R", System.Globalization.CultureInfo.InvariantCulture)}f, _mask{s.Index}_{Inv(layer)}.AsSpan(0, rows * {Inv(d2 * hp)}));");
                        w.Line($"{S}.Multiply({src.Buffer}.AsSpan(0, rows * {Inv(d2 * hp)}), _mask{s.Index}_{Inv(layer)}, _drop{s.Index}_{Inv(layer)}.AsSpan(0, rows * {Inv(d2 * hp)}));");
                        w.Line($"{srcBuffer} = _drop{s.Index}_{Inv(layer)};");
                    }
                }

                for (int d = 0; d < d2; d++)
                {
                    w.Line($"// Layer {Inv(layer)}, {(d == 0 ? "forward" : "reverse")}.");
                    int job = JobIndex(plan, s, layer, d);
                    w.Line($"_jobInput = {srcBuffer};");
                    w.Line($"Fork({Inv(job)}, batch, seqLen); // the input products ({k}.{DenseName(src, l.Gates * hp, ActivationKind.None, panel: InputPanel(plan, l))}), then the recurrence ({k}.{seqKernel})");
                }
            }

            w.Line($"// Final states [{Inv(states)}, B, {Inv(h)}]: the forward direction's last step, the reverse direction's first.");
            using (w.Block("if (!hN.IsEmpty)"))
            {
                for (int layer = 0; layer < l.NumLayers; layer++)
                {
                    for (int d = 0; d < d2; d++)
                    {
                        string off = d == 0 ? $"(seqLen - 1) * batch * {Inv(d2 * hp)}" : Inv(d * hp);
                        w.Line($"{S}.CopyRows(_seq{s.Index}_{Inv(layer)}.AsSpan({off}), {Inv(d2 * hp)}, hN.Slice({Inv((layer * d2) + d)} * batch * {Inv(h)}), {Inv(h)}, {Inv(h)}, batch);");
                    }
                }
            }

            if (lstm)
            {
                using (w.Block("if (!cN.IsEmpty)"))
                {
                    for (int layer = 0; layer < l.NumLayers; layer++)
                    {
                        for (int d = 0; d < d2; d++)
                        {
                            int index = (layer * d2) + d;
                            string off = $"({Inv(index)} * rows{(d == 0 ? " + ((seqLen - 1) * batch)" : string.Empty)}) * {Inv(hp)}";
                            w.Line($"{S}.CopyRows(_aux{s.Index}.AsSpan({off}), {Inv(hp)}, cN.Slice({Inv(index)} * batch * {Inv(h)}), {Inv(h)}, {Inv(h)}, batch);");
                        }
                    }
                }
            }
        }

        w.Line();
    }

    private static void WriteEnsureWorkspace(SourceWriter w, ModelPlan plan)
    {
        w.Line("/// <summary>Grows the workspace to hold a batch of <paramref name=\"batch\"/> sequences of <paramref name=\"seqLen\"/> steps.</summary>");
        using (w.Block("private void EnsureWorkspace(int batch, int seqLen)"))
        {
            w.Line("int rows = batch * seqLen;");
            foreach ((string field, string length, string _) in Workspace(plan))
            {
                w.Line($"{S}.Ensure(ref {field}, {length});");
            }
        }

        w.Line();
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
