using System.Collections.Generic;
using System.Linq;

namespace Deepbox.Generators;

/// <summary>
/// The backward pass through time: public entry points, the gradient workspace, the output-major weight packing
/// and the stage sequence in reverse. Parameter gradients are added into <c>Parameter.Grad</c> (PyTorch accumulates).
/// </summary>
internal static partial class Emitter
{
    /// <summary>The gradient buffer of a row buffer: <c>_x</c> gives <c>_d_x</c>.</summary>
    private static string Grad(RowSource src) => "_d" + src.Buffer;

    /// <summary>Floats per row of a gradient buffer: the row stride, or the input width padded to whole vectors for the model input.</summary>
    private static int GradStride(ModelPlan plan, RowSource src) => src.Buffer == "_x" ? plan.Isa.Pad(plan.InputSize) : src.RowStride;

    /// <summary>Row buffers whose gradient Backward needs: the model input and every stage output, once each.</summary>
    private static IEnumerable<RowSource> GradientSources(ModelPlan plan)
    {
        var seen = new HashSet<string>();
        foreach (StagePlan s in plan.Stages)
        {
            if (s.Layer.IsRecurrent)
            {
                for (int layer = 0; layer < s.Layer.NumLayers; layer++)
                {
                    RowSource src = s.LayerInput(layer);
                    if (seen.Add(src.Buffer))
                    {
                        yield return src;
                    }
                }
            }
            else if (seen.Add(s.Input.Buffer))
            {
                yield return s.Input;
            }

            if (seen.Add(s.Output.Buffer))
            {
                yield return s.Output;
            }
        }
    }

    /// <summary>The output-major weights Backward multiplies gate gradients by: (field, length, what).</summary>
    private static IEnumerable<(string Field, int Length, string What)> TransposedBuffers(ModelPlan plan)
    {
        foreach (StagePlan s in plan.Stages)
        {
            LayerSpec l = s.Layer;
            int n = l.Gates * s.Padded;
            if (l.IsRecurrent)
            {
                for (int layer = 0; layer < l.NumLayers; layer++)
                {
                    int inWidth = plan.Isa.Pad(s.LayerInput(layer).PackedRows);
                    for (int d = 0; d < l.Directions; d++)
                    {
                        string tag = Tag(layer, d);
                        yield return ($"_wT{s.Index}_{tag}_ih", n * inWidth, $"W_ih output-major [{Inv(n)}][{Inv(inWidth)}]");
                        yield return ($"_wT{s.Index}_{tag}_hh", n * s.Padded, $"W_hh output-major [{Inv(n)}][{Inv(s.Padded)}]");
                    }
                }
            }
            else if (l.Kind == LayerKind.Linear)
            {
                int inWidth = plan.Isa.Pad(s.Input.PackedRows);
                yield return ($"_wT{s.Index}", s.Padded * inWidth, $"weight output-major [{Inv(s.Padded)}][{Inv(inWidth)}]");
            }
        }
    }

    /// <summary>The gradient workspace: (field, length expression over <c>rows</c> and <c>batch</c>, what).</summary>
    private static IEnumerable<(string Field, string Length, string What)> BackwardWorkspace(ModelPlan plan)
    {
        foreach (RowSource src in GradientSources(plan))
        {
            string rows = src.Collapsed && !src.LastStepOnly ? "batch" : "rows";
            yield return (Grad(src), $"{rows} * {Inv(GradStride(plan, src))}", $"gradient of {src.Buffer}");
        }

        foreach (StagePlan s in plan.Stages.Where(s => s.Layer.Kind == LayerKind.LastStep))
        {
            yield return ("_d_last", $"batch * {Inv(s.Input.RowStride)}", "gradient of _last (with lengths)");
        }

        foreach (StagePlan s in plan.Stages.Where(s => s.Layer.IsRecurrent))
        {
            int n = s.Layer.Gates * s.Padded;
            int sites = s.Layer.NumLayers * s.Layer.Directions;
            string slots = HasTrainingSubBatches(plan) && sites > 1 ? $" * (_deferWeightGrads ? {Inv(sites)} : 1)" : string.Empty;
            yield return ($"_dG{s.Index}", $"rows * {Inv(n)}{slots}", $"({Inv(s.Index)}) gradients of the gate pre-activations, input side{(slots.Length > 0 ? " (a slot per layer and direction in a sub-batch)" : string.Empty)}");
            if (s.Layer.Kind == LayerKind.Gru)
            {
                yield return ($"_dGh{s.Index}", $"rows * {Inv(n)}{slots}", $"({Inv(s.Index)}) gradients of the gate pre-activations, hidden side (n differs: r * dn)");
            }

            yield return ($"_dh{s.Index}", $"batch * {Inv(s.Padded)}", $"({Inv(s.Index)}) gradient of the hidden state carried back through time");
            if (s.Layer.Kind == LayerKind.Lstm)
            {
                yield return ($"_dc{s.Index}", $"batch * {Inv(s.Padded)}", $"({Inv(s.Index)}) gradient of the cell state carried back through time");
            }
        }
    }

    private static int WeightScratchLength(ModelPlan plan) =>
        PackedBuffers(plan).Where(b => b.Field.StartsWith("_w", System.StringComparison.Ordinal)).Select(b => b.Length).DefaultIfEmpty(0).Max();

    private static int BiasScratchLength(ModelPlan plan) =>
        plan.Stages.Where(s => s.Layer.Kind != LayerKind.LastStep).Select(s => s.Layer.Gates * s.Padded).DefaultIfEmpty(0).Max();

    private static void WriteBackwardFields(SourceWriter w, ModelPlan plan)
    {
        w.Line("// Backward workspace, allocated by the first Backward and grown like the forward workspace.");
        foreach ((string field, int _, string what) in TransposedBuffers(plan))
        {
            w.Line($"private global::Deepbox.CompilerServices.AlignedBuffer {field} = global::Deepbox.CompilerServices.AlignedBuffer.Empty; // {what}");
        }

        foreach ((string field, string _, string what) in BackwardWorkspace(plan))
        {
            w.Line($"private global::Deepbox.CompilerServices.AlignedBuffer {field} = global::Deepbox.CompilerServices.AlignedBuffer.Empty; // {what}");
        }

        w.Line("private long _packedTransposedVersion = -1; // the Version of the weights in the transposed copies");
        // Measured on W3 (LSTM(16, 64), B = 32, T = 64) on 2 threads of an AMD EPYC family 26 model 2 (Zen 5, FMA peak
        // 218 GFLOP/s in the session's benchmark run): float arrays here, a block's first cache line shared with the block
        // before, the weight-gradient product ran at 1.3-1.4 times half its one-thread time on each thread; aligned, W3 on
        // 2 threads median 1.12 times faster (alternated rounds), its one-thread time unchanged.
        w.Line("// The packed weight-gradient sums start on a 64-byte boundary: after a pass in sub-batches two threads add into");
        w.Line("// neighbouring blocks of columns at once (WeightGradPipeline), and a cache line two blocks shared would pass between");
        w.Line("// their cores at every store.");
        w.Line("private global::Deepbox.CompilerServices.AlignedBuffer _gW = global::Deepbox.CompilerServices.AlignedBuffer.Empty; // one weight gradient in the packed layout (a layer's W_ih, or a Linear's weight)");
        w.Line("private global::Deepbox.CompilerServices.AlignedBuffer _gB = global::Deepbox.CompilerServices.AlignedBuffer.Empty; // one bias gradient in the packed layout");
        if (HasJobs(plan))
        {
            w.Line("private global::Deepbox.CompilerServices.AlignedBuffer _gWh = global::Deepbox.CompilerServices.AlignedBuffer.Empty; // a recurrent layer's W_hh gradient in the packed layout");
            if (plan.Stages.Any(s => s.Layer.Kind == LayerKind.Gru))
            {
                w.Line("private global::Deepbox.CompilerServices.AlignedBuffer _gBh = global::Deepbox.CompilerServices.AlignedBuffer.Empty; // a GRU layer's b_hh gradient in the packed layout (its n gate differs from b_ih's)");
            }

            w.Line("private bool _inputGrad; // whether the running Backward computes the model input's gradient");
        }
        w.Line();
    }

    private static void WriteBackwardCore(SourceWriter w, ModelPlan plan)
    {
        string k = KernelClass(plan);
        int v = plan.Isa.Width;
        w.Line("/// <summary>The backward pass itself, over the saved forward pass on the weights it read; every argument has been checked.</summary>");
        using (w.Block($"public void Backward(int threads, Weights weights, int batch, int seqLen, {RoSpan} gradOutput, {RoSpan} gradH, {RoSpan} gradC, {Span} gradInput, {Span} gradH0, {Span} gradC0)"))
        {
            w.Line("W = weights;");
            if (HasJobs(plan))
            {
                w.Line("_threads = threads;");
                w.Line(plan.Embedding is null ? "_inputGrad = !gradInput.IsEmpty;" : "_inputGrad = true; // the table's gradient is made of the rows' gradients");
            }
            if (HasTrainingSubBatches(plan))
            {
                using (w.Block("if (_subParts > 0) // the forward pass ran in sub-batches: so does this one"))
                {
                    w.Line("BackwardSubBatches(batch, seqLen, gradOutput, gradH, gradC, gradInput, gradH0, gradC0);");
                    w.Line("return;");
                }

                w.Line();
            }

            w.Line("int rows = _lengths.Rows; // as the forward pass laid them out");
            w.Line("EnsureBackwardWorkspace(batch, seqLen);");
            w.Line("PackTransposedWeights();");
            WriteGradOutputIn(w, plan, subBatch: false);
            w.Line("BackwardStages(batch, seqLen, gradH, gradC, gradH0, gradC0);");
            RowSource input = plan.Stages[0].Input;
            w.Line("// The input gradient in the caller's layout.");
            using (w.Block("if (!gradInput.IsEmpty)"))
            {
                w.Line($"if (_lengths.IsRagged) _lengths.FromRows({Grad(input)}, {Inv(GradStride(plan, input))}, {Inv(plan.InputSize)}, {Inv(plan.InputSize)}, 1, BatchFirst, gradInput, collapsed: false);");
                w.Line($"else {S}.FromTimeMajor({Grad(input)}, {Inv(GradStride(plan, input))}, {Inv(plan.InputSize)}, {Inv(plan.InputSize)}, 1, batch, seqLen, BatchFirst, gradInput);");
            }
        }

        w.Line();
        w.Line("/// <summary>The stages' backward passes, last stage first, from the output gradient's rows; the input's gradient is left in its rows.</summary>");
        using (w.Block($"private void BackwardStages(int batch, int seqLen, {RoSpan} gradH, {RoSpan} gradC, {Span} gradH0, {Span} gradC0)"))
        {
            w.Line("int rows = _lengths.Rows;");
            StagePlan? first = plan.FirstRecurrent;
            for (int i = plan.Stages.Count - 1; i >= 0; i--)
            {
                StagePlan s = plan.Stages[i];
                w.Line($"// ({(s.Layer.Name ?? Inv(s.Index))}) {s.Describe()}");
                switch (s.Layer.Kind)
                {
                    case LayerKind.Embedding:
                        w.Line($"// Each row's gradient into its token's vector{(s.Layer.PaddingIdx >= 0 ? $", except padding_idx {Inv(s.Layer.PaddingIdx)}'s, which never learns" : string.Empty)} (rows in order: the same sums on any number of threads).");
                        w.Line($"{S}.EmbeddingBackward({Grad(s.Input)}, {Inv(GradStride(plan, s.Input))}, EmbeddingDim, _tokens, rows, {Inv(s.Layer.PaddingIdx)}, _model.{s.Parameters[0].Field}.Grad.AsSpan());");
                        break;
                    case LayerKind.LastStep:
                        w.Line("// Only the last step's rows carry gradient (the rest were cleared); with lengths, each sequence's own last step.");
                        w.Line($"if (_lengths.IsRagged) _lengths.ScatterLast(_d_last, {Inv(s.Input.RowStride)}, {Grad(s.Input)});");
                        break;
                    case LayerKind.Linear:
                        WriteLinearBackward(w, plan, s, k);
                        break;
                    default:
                        w.Line(s == first ? $"BackwardStage{s.Index}(batch, seqLen, gradH, gradC, gradH0, gradC0);" : $"BackwardStage{s.Index}(batch, seqLen, default, default, default, default);");
                        break;
                }
            }
        }

        w.Line();
        foreach (StagePlan s in plan.Stages.Where(s => s.Layer.Kind == LayerKind.Linear))
        {
            WriteLinearWeightGrads(w, plan, s, k, v);
        }

        WriteBackwardSubBatches(w, plan);
        w.Line();
        foreach (StagePlan s in plan.Stages.Where(s => s.Layer.IsRecurrent))
        {
            WriteRecurrentBackwardStage(w, plan, s, k, v);
        }

        WriteEnsureBackwardWorkspace(w, plan);
        WritePackTransposed(w, plan);
    }

    /// <summary>The output gradient as rows of the last stage's output layout (a sub-batch's: its sequences of the caller's).</summary>
    private static void WriteGradOutputIn(SourceWriter w, ModelPlan plan, bool subBatch)
    {
        RowSource o = plan.Output;
        w.Line("// The output gradient as rows of the last stage's output layout.");
        if (o.LastStepOnly)
        {
            w.Line($"{Grad(o)}.AsSpan(0, rows * {Inv(o.RowStride)}).Clear();");
        }

        string layout = $"{Inv(o.RowStride)}, {Inv(o.SegmentWidth)}, {Inv(o.SegmentStride)}, {Inv(o.Segments)}";
        if (subBatch)
        {
            w.Line($"{S}.ToTimeMajorRows(gradOutput, {layout}, batch, {(o.Collapsed ? "1" : "seqLen")}, BatchFirst, {GradSlice(o)}, _sub.CallerBatch, _sub.First);");
            return;
        }

        w.Line($"if (_lengths.IsRagged) _lengths.ToRows(gradOutput, {layout}, BatchFirst, {GradSlice(o)}, collapsed: {(o.Collapsed ? "true" : "false")});");
        w.Line($"else {S}.ToTimeMajorRows(gradOutput, {layout}, batch, {(o.Collapsed ? "1" : "seqLen")}, BatchFirst, {GradSlice(o)});");
    }

    /// <summary>The gradient span of a source as its readers see it (from the last step's rows after <c>LastStep</c>).</summary>
    private static string GradSlice(RowSource src) => src.LastStepOnly
        ? $"(_lengths.IsRagged ? _d_last.AsSpan() : {Grad(src)}.AsSpan((seqLen - 1) * batch * {Inv(src.RowStride)}))"
        : Grad(src);

    private static void WriteLinearBackward(SourceWriter w, ModelPlan plan, StagePlan s, string k)
    {
        LayerSpec l = s.Layer;
        RowSource src = s.Input;
        string rowsOut = s.Input.Collapsed ? "batch" : "rows";
        if (l.Activation != Activation.None)
        {
            w.Line($"{S}.ActivationBackward(global::Deepbox.Activation.{l.Activation}, _y{s.Index}.AsSpan(0, {rowsOut} * {Inv(s.Padded)}), _d_y{s.Index}.AsSpan(0, {rowsOut} * {Inv(s.Padded)}));");
        }

        w.Line(HasTrainingSubBatches(plan) ? $"if (!_deferWeightGrads) LinearWeightGrads{s.Index}();" : $"LinearWeightGrads{s.Index}();");
        if (src.LastStepOnly)
        {
            w.Line($"{Grad(src)}.AsSpan(0, rows * {Inv(src.RowStride)}).Clear();");
        }

        RowSource gradRows = new("", s.Padded, s.Padded, s.Padded, 1);
        w.Line($"{k}.{DenseName(gradRows, plan.Isa.Pad(src.PackedRows), Activation.None, DenseInit.Zero)}(_d_y{s.Index}, {Inv(s.Padded)}, _wT{s.Index}, default, {GradSlice(src)}, {rowsOut});");
    }

    /// <summary>
    /// A Linear stage's weight gradients: <c>LinearGradRows</c> sums the rows of this workspace's pass (or of each of its
    /// sub-batches, in order) into the packed scratch, which is then added into the parameters' gradients.
    /// </summary>
    private static void WriteLinearWeightGrads(SourceWriter w, ModelPlan plan, StagePlan s, string k, int v)
    {
        LayerSpec l = s.Layer;
        RowSource src = s.Input;
        Dictionary<string, string> p = GradSpans(s);
        int packed = src.PackedRows * s.Padded;
        string bias = l.Bias ? "_gB" : "default";
        w.Line($"/// <summary>({(l.Name ?? Inv(s.Index))}) {s.Describe()}: its weight gradients, added into the parameters' gradients.</summary>");
        using (w.Block($"private void LinearWeightGrads{s.Index}()"))
        {
            w.Line($"_gW.AsSpan(0, {Inv(packed)}).Clear();");
            if (l.Bias)
            {
                w.Line($"_gB.AsSpan(0, {Inv(s.Padded)}).Clear();");
            }

            if (HasTrainingSubBatches(plan))
            {
                w.Line($"if (_subParts > 0) for (int p = 0; p < _subParts; p++) _subBatches[p].LinearGradRows{s.Index}(_gW, {bias}); // the sub-batches in order: the rows in one thread's order");
                w.Line($"else LinearGradRows{s.Index}(_gW, {bias});");
            }
            else
            {
                w.Line($"LinearGradRows{s.Index}(_gW, {bias});");
            }

            w.Line($"{S}.UnpackGateInterleavedAdd(_gW, 1, {Inv(l.HiddenSize)}, {Inv(src.Width)}, {Inv(v)}, {Inv(src.SegmentWidth)}, {Inv(src.SegmentStride)}, {p["weight"]});");
            if (l.Bias)
            {
                w.Line($"{S}.UnpackGateBiasAdd(_gB, 1, {Inv(l.HiddenSize)}, {Inv(v)}, {p["bias"]});");
            }
        }

        w.Line();
        w.Line($"/// <summary>({(l.Name ?? Inv(s.Index))}) The sums over this workspace's rows of its weight (and bias) gradients, added into <paramref name=\"gW\"/> (and <paramref name=\"gB\"/>).</summary>");
        using (w.Block($"private void LinearGradRows{s.Index}(global::System.Span<float> gW, global::System.Span<float> gB)"))
        {
            w.Line("int batch = _lengths.Batch;");
            w.Line("int seqLen = _lengths.SeqLen;");
            w.Line("int rows = _lengths.Rows;");
            string kernel = $"{k}.{WeightGradName(src, s.Padded)}";
            string stride = Inv(src.RowStride);
            string width = Inv(s.Padded);
            if (src.Collapsed)
            {
                w.Line("// One row a sequence, in order.");
                w.Line($"{kernel}({Slice(src)}, {stride}, _d_y{s.Index}, gW, 1, batch, 0, 0, {width});");
                if (l.Bias)
                {
                    w.Line($"{S}.AddColumnSums(_d_y{s.Index}, batch, {width}, gB, 0, {width});");
                }
            }
            else
            {
                WriteGroupedRows(w, "rows", (x, dG, steps, groupRows, stepStride) =>
                {
                    w.Line($"{kernel}({src.Buffer}{x(stride)}, {stride}, _d_y{s.Index}{dG(width)}, gW, {steps}, {groupRows}, {stepStride}, 0, {width});");
                    if (l.Bias)
                    {
                        w.Line($"{S}.AddColumnSums(_d_y{s.Index}{dG(width)}, {steps}, {groupRows}, {stepStride}, {width}, gB, 0, {width});");
                    }
                });
            }
        }

        w.Line();
    }

    /// <summary>
    /// The rows of a pass in the order its weight gradients sum them, the same on any number of threads: with lengths, the
    /// packed rows in order; without, group by group of <c>KernelLayout.RowTile</c> sequences (the sub-batches' boundaries
    /// fall between groups), each group step by step. <paramref name="body"/> writes the calls for one run of rows, from
    /// the offsets of its first row (given a row's floats) and its steps, rows a step and step stride.
    /// </summary>
    private static void WriteGroupedRows(SourceWriter w, string rows, System.Action<System.Func<string, string>, System.Func<string, string>, string, string, string> body)
    {
        using (w.Block("if (_lengths.IsRagged)"))
        {
            body(_ => string.Empty, _ => string.Empty, "1", rows, "0");
        }

        using (w.Block("else"))
        {
            using (w.Block($"for (int q = 0; q < batch; q += {Inv(KernelLayout.RowTile)})"))
            {
                w.Line($"int group = global::System.Math.Min({Inv(KernelLayout.RowTile)}, batch - q);");
                body(f => $".AsSpan(q * {f})", f => $".AsSpan(q * {f})", "seqLen", "group", "batch");
            }
        }
    }

    /// <summary>Vectors of weight-gradient columns a kernel call computes together; a thread's share of the columns is whole blocks of them.</summary>
    private const int WeightGradColumnVectors = 4;

    /// <summary>The job number of a layer and direction's backward jobs: back through time (this), then its weight gradients (this + 1).</summary>
    private static int BackwardJobIndex(ModelPlan plan, StagePlan s, int layer, int d) => JobSites(plan).Count() + (2 * JobIndex(plan, s, layer, d));

    /// <summary>Whether a layer input's gradient is computed: always, except the model input's when the caller passes nowhere to put it.</summary>
    private static string InputGradCondition(RowSource src) => src.Buffer == "_x" ? "_inputGrad" : "true";

    private static void WriteRecurrentBackwardStage(SourceWriter w, ModelPlan plan, StagePlan s, string k, int v)
    {
        LayerSpec l = s.Layer;
        int d2 = l.Directions;
        int hp = s.Padded;
        int h = l.HiddenSize;
        int n = l.Gates * hp;
        bool lstm = l.Kind == LayerKind.Lstm;
        bool gru = l.Kind == LayerKind.Gru;
        (StagePlan lastStage, int lastLayer, int _) = JobSites(plan).First(); // Backward's last regions are the first layer's
        w.Line($"/// <summary>({(l.Name ?? Inv(s.Index))}) {s.Describe()} backward: layers top-down, each direction back through time, then its weight gradients.</summary>");
        using (w.Block($"private void BackwardStage{s.Index}(int batch, int seqLen, {RoSpan} gradH, {RoSpan} gradC, {Span} gradH0, {Span} gradC0)"))
        {
            w.Line("int rows = _lengths.Rows;");
            for (int layer = l.NumLayers - 1; layer >= 0; layer--)
            {
                RowSource src = s.LayerInput(layer);
                string gradIn = Grad(src);
                for (int d = 0; d < d2; d++)
                {
                    int index = (layer * d2) + d;
                    int job = BackwardJobIndex(plan, s, layer, d);
                    w.Line($"// Layer {Inv(layer)}, {(d == 0 ? "forward" : "reverse")}: the final states' gradients in, back through time, the initial states' out.");
                    w.Line($"_dh{s.Index}.AsSpan(0, batch * {Inv(hp)}).Clear();");
                    w.Line($"if (!gradH.IsEmpty) _lengths.StatesIn(gradH.Slice({Scaled(index, "batch * " + Inv(h))}), {Inv(h)}, _dh{s.Index}, {Inv(hp)}, 1);");
                    if (lstm)
                    {
                        w.Line($"_dc{s.Index}.AsSpan(0, batch * {Inv(hp)}).Clear();");
                        w.Line($"if (!gradC.IsEmpty) _lengths.StatesIn(gradC.Slice({Scaled(index, "batch * " + Inv(h))}), {Inv(h)}, _dc{s.Index}, {Inv(hp)}, 1);");
                    }

                    // Per sequence and step: the cell's backward, W_hh^T d(gates) and W_ih^T d(gates).
                    string throughTime = $"2 * {Inv(n)} * {Inv(hp)}";
                    string inputWork = $"2 * {Inv(n)} * {Inv(plan.Isa.Pad(src.PackedRows))}";
                    string rowWork = src.Buffer == "_x" ? $"{throughTime} + (_inputGrad ? {inputWork} : 0)" : $"{throughTime} + {inputWork}";
                    w.Line($"// Back through time ({k}.{BackwardName(l, h)}), then the gradient of the layer's input{(d == 1 ? " added to the forward direction's" : string.Empty)}, split by sequences.");
                    w.Line($"Fork({Inv(job)}, batch, seqLen, rowWork: {rowWork}, last: false{(SmallWeights(plan, s, layer) ? ", chunks: true" : string.Empty)});");
                    w.Line($"if (!gradH0.IsEmpty) _lengths.StatesOut(_dh{s.Index}, {Inv(hp)}, gradH0.Slice({Scaled(index, "batch * " + Inv(h))}), {Inv(h)});");
                    if (lstm)
                    {
                        w.Line($"if (!gradC0.IsEmpty) _lengths.StatesOut(_dc{s.Index}, {Inv(hp)}, gradC0.Slice({Scaled(index, "batch * " + Inv(h))}), {Inv(h)});");
                    }

                    string weightGrads = $"WeightGrads{s.Index}_{Tag(layer, d)}(batch, seqLen);";
                    w.Line(HasTrainingSubBatches(plan) ? $"if (!_deferWeightGrads) {weightGrads}" : weightGrads);
                }

                if (layer > 0 && HasDropout(l))
                {
                    w.Line($"// Through the dropout mask on layer {Inv(layer)}'s input.");
                    w.Line($"{S}.Multiply({gradIn}.AsSpan(0, rows * {Inv(d2 * hp)}), _mask{s.Index}_{Inv(layer)}, {gradIn}.AsSpan(0, rows * {Inv(d2 * hp)}));");
                }
            }
        }

        w.Line();
        for (int layer = l.NumLayers - 1; layer >= 0; layer--)
        {
            RowSource src = s.LayerInput(layer);
            for (int d = 0; d < d2; d++)
            {
                int job = BackwardJobIndex(plan, s, layer, d);
                w.Line($"/// <summary>({(l.Name ?? Inv(s.Index))}) layer {Inv(layer)}, {(d == 0 ? "forward" : "reverse")}: its weight gradients, added into the parameters' gradients.</summary>");
                using (w.Block($"private void WeightGrads{s.Index}_{Tag(layer, d)}(int batch, int seqLen)"))
                {
                    w.Line("// W_ih from the layer's input, W_hh from the previous hidden states, each one product over all steps, then added into");
                    w.Line($"// the parameters' gradients; split by columns (blocks of {Inv(WeightGradColumnVectors * v)}), each summed over the rows in one order whichever");
                    w.Line("// thread computes it.");
                    w.Line($"ClearWeightGrads{s.Index}_{Tag(layer, d)}();");

                    bool last = s == lastStage && layer == lastLayer && d == l.Directions - 1;
                    int blocks = (n + (WeightGradColumnVectors * v) - 1) / (WeightGradColumnVectors * v);
                    string fork = $"Fork({Inv(job + 1)}, batch, seqLen, rowWork: 2 * {Inv(n)} * ({Inv(src.PackedRows)} + {Inv(h)}), last: {(last ? "true" : "false")}, maxParts: {Inv(blocks)});";
                    if (HasTrainingSubBatches(plan))
                    {
                        w.Line($"// (After a pass in sub-batches, the backward passes' region sums them: WeightGradPipeline{s.Index}_{Tag(layer, d)}.)");
                    }

                    w.Line(fork);
                }

                w.Line();
                w.Line($"/// <summary>({(l.Name ?? Inv(s.Index))}) layer {Inv(layer)}, {(d == 0 ? "forward" : "reverse")}: zeros its weight gradients' packed scratch, which the sums add into.</summary>");
                ScratchSlot slot = Slot(plan, s, layer, d);
                using (w.Block($"private void ClearWeightGrads{s.Index}_{Tag(layer, d)}()"))
                {
                    w.Line($"_gW.AsSpan({Inv(slot.W)}, {Inv(src.PackedRows * n)}).Clear();");
                    w.Line($"_gWh.AsSpan({Inv(slot.Wh)}, {Inv(h * n)}).Clear();");
                    if (l.Bias)
                    {
                        w.Line($"_gB.AsSpan({Inv(slot.B)}, {Inv(n)}).Clear();");
                        if (gru)
                        {
                            w.Line($"_gBh.AsSpan({Inv(slot.B)}, {Inv(n)}).Clear();");
                        }
                    }
                }

                w.Line();
                WriteWeightGradRows(w, plan, s, layer, d, k);
                WriteWeightGradsInto(w, plan, s, layer, d, src, v);
                if (HasTrainingSubBatches(plan))
                {
                    WriteWeightGradPipeline(w, plan, s, layer, d);
                }
            }
        }
    }

    /// <summary>
    /// A layer and direction's weight gradients after a training pass in sub-batches: part <c>p</c> adds sub-batch <c>p</c>'s
    /// rows block by block of columns, each once part <c>p - 1</c> has finished the block (<c>Pipeline</c>, its progress
    /// counted over every layer's columns in <see cref="WeightGradSites"/>' order), and the last part adds each finished
    /// block into the parameters' gradients. The caller of it marks the part finished (<c>Pipeline.Finish</c>) after the
    /// last layer, or when it fails.
    /// </summary>
    private static void WriteWeightGradPipeline(SourceWriter w, ModelPlan plan, StagePlan s, int layer, int d)
    {
        LayerSpec l = s.Layer;
        int n = l.Gates * s.Padded;
        int columnBlock = WeightGradColumnVectors * plan.Isa.Width;
        string tag = Tag(layer, d);
        // The pipeline's progress counts columns over the layers before this one too: their gate columns, as many as their
        // biases' slices of the scratch hold, so this layer's first column is its bias slice's offset.
        ScratchSlot slot = Slot(plan, s, layer, d);
        string done = slot.B == 0 ? "cEnd" : $"{Inv(slot.B)} + cEnd";
        w.Line($"/// <summary>({(l.Name ?? Inv(s.Index))}) layer {Inv(layer)}, {(d == 0 ? "forward" : "reverse")}: sub-batch <paramref name=\"part\"/>'s rows of its weight gradients, in the pipeline of the sub-batches.</summary>");
        using (w.Block($"private void WeightGradPipeline{s.Index}_{tag}(int part, int parts)"))
        {
            w.Line($"// Block by block of {Inv(columnBlock)} columns, each once sub-batch part - 1 has added its rows into the block: every sum in one");
            w.Line("// thread's order, each sub-batch's rows read on the core that wrote them. The last sub-batch's thread then adds the");
            w.Line("// block into the parameters' gradients.");
            using (w.Block($"for (int cFirst = 0; cFirst < {Inv(n)}; cFirst += {Inv(columnBlock)})"))
            {
                w.Line($"int cEnd = global::System.Math.Min({Inv(n)}, cFirst + {Inv(columnBlock)});");
                w.Line($"_pipeline.WaitFor(part, {done});");
                w.Line($"_subBatches[part].WeightGradRows{s.Index}_{tag}({ScratchArgs(plan, s, layer, d)}cFirst, cEnd);");
                w.Line($"if (part == parts - 1) WeightGradsInto{s.Index}_{tag}(cFirst, cEnd);");
                w.Line($"_pipeline.Done(part, {done});");
            }
        }

        w.Line();
    }

    /// <summary>
    /// Every recurrent layer and direction whose weight gradients a training pass sums, in the order it sums them (stages
    /// last to first, layers top-down).
    /// </summary>
    private static IEnumerable<(StagePlan Stage, int Layer, int Direction)> WeightGradSites(ModelPlan plan) =>
        from s in Enumerable.Reverse(plan.Stages)
        where s.Layer.IsRecurrent
        from layer in Enumerable.Range(0, s.Layer.NumLayers).Reverse()
        from d in Enumerable.Range(0, s.Layer.Directions)
        select (s, layer, d);

    /// <summary>
    /// Where a layer and direction's packed weight-gradient sums start in the scratch (<c>_gW</c>, <c>_gWh</c>, <c>_gB</c> and
    /// <c>_gBh</c>).
    /// </summary>
    private sealed record ScratchSlot(int W, int Wh, int B);

    /// <summary>
    /// A layer and direction's <see cref="ScratchSlot"/>. After a training pass in sub-batches every layer's weight
    /// gradients run in the backward passes' region, the first sub-batch's thread adding into one layer while the last
    /// one's still unpacks another: each layer has a slice of the scratch of its own, one after another in
    /// <see cref="WeightGradSites"/>' order (<see cref="Slices"/>). Otherwise a layer's sums are unpacked before the next
    /// layer's start: all at 0.
    /// </summary>
    private static ScratchSlot Slot(ModelPlan plan, StagePlan stage, int layer, int direction) =>
        !HasTrainingSubBatches(plan)
            ? new ScratchSlot(0, 0, 0)
            : Slices(plan).FirstOrDefault(x => x.Stage == stage && x.Layer == layer && x.Direction == direction).Slot
              ?? throw new System.ArgumentException("Not a recurrent layer and direction of the plan.", nameof(stage));

    /// <summary>
    /// Each layer and direction's slice of the scratch, one after another in <see cref="WeightGradSites"/>' order, then
    /// (as a last element with no stage) where the slices end: their total lengths.
    /// </summary>
    private static IEnumerable<(StagePlan? Stage, int Layer, int Direction, ScratchSlot Slot)> Slices(ModelPlan plan)
    {
        int w = 0, wh = 0, b = 0;
        foreach ((StagePlan s, int l, int d) in WeightGradSites(plan))
        {
            yield return (s, l, d, new ScratchSlot(w, wh, b));
            int n = s.Layer.Gates * s.Padded;
            w += s.LayerInput(l).PackedRows * n;
            wh += s.Layer.HiddenSize * n;
            b += n;
        }

        yield return (null, -1, -1, new ScratchSlot(w, wh, b));
    }

    /// <summary>The scratch lengths a plan's weight gradients take: the largest one layer's, or, with a slice each (<see cref="Slot"/>), their sum.</summary>
    private static (int W, int Wh, int B) ScratchLengths(ModelPlan plan)
    {
        int w = WeightScratchLength(plan);
        int b = BiasScratchLength(plan);
        int wh = plan.Stages.Where(s => s.Layer.IsRecurrent).Select(s => s.Layer.HiddenSize * s.Layer.Gates * s.Padded).DefaultIfEmpty(0).Max();
        if (HasTrainingSubBatches(plan))
        {
            ScratchSlot end = Slices(plan).Last().Slot;
            (w, wh, b) = (System.Math.Max(w, end.W), System.Math.Max(wh, end.Wh), System.Math.Max(b, end.B));
        }

        return (w, wh, b);
    }

    /// <summary>The scratch arguments of a layer and direction's <c>WeightGradRows</c>: its slices of <c>_gW</c>, <c>_gWh</c>, <c>_gB</c> (and <c>_gBh</c>), each followed by ", ".</summary>
    private static string ScratchArgs(ModelPlan plan, StagePlan s, int layer, int d)
    {
        ScratchSlot slot = Slot(plan, s, layer, d);
        string args = $"{At("_gW", slot.W)}, {At("_gWh", slot.Wh)}, {At("_gB", slot.B)}, ";
        return s.Layer.Kind == LayerKind.Gru ? args + $"{At("_gBh", slot.B)}, " : args;
    }

    /// <summary><paramref name="field"/> from <paramref name="offset"/>: the array itself at 0.</summary>
    private static string At(string field, int offset) => offset == 0 ? field : $"{field}.AsSpan({Inv(offset)})";

    /// <summary>Each parameter of a stage (by its name past the stage's prefix) as the span of its gradient.</summary>
    private static Dictionary<string, string> GradSpans(StagePlan s) =>
        s.Parameters.ToDictionary(x => x.Name.Substring(s.Prefix.Length), x => "_model." + x.Field + ".Grad.AsSpan()");

    /// <summary>A layer and direction's summed weight gradients, columns [c0, c1), added into its parameters' gradients.</summary>
    private static void WriteWeightGradsInto(SourceWriter w, ModelPlan plan, StagePlan s, int layer, int d, RowSource src, int v)
    {
        LayerSpec l = s.Layer;
        int h = l.HiddenSize;
        bool gru = l.Kind == LayerKind.Gru;
        string sfx = Inv(layer) + (d == 1 ? "_reverse" : string.Empty);
        Dictionary<string, string> p = GradSpans(s);
        w.Line($"/// <summary>({(l.Name ?? Inv(s.Index))}) layer {Inv(layer)}, {(d == 0 ? "forward" : "reverse")}: columns [c0, c1) of its summed weight gradients, added into the parameters' gradients.</summary>");
        using (w.Block($"private void WeightGradsInto{s.Index}_{Tag(layer, d)}(int c0, int c1)"))
        {
            w.Line("// PyTorch's layout: these columns are these gate rows, which no other part touches.");
            ScratchSlot slot = Slot(plan, s, layer, d);
            w.Line($"{S}.UnpackGateInterleavedAdd({At("_gW", slot.W)}, {Inv(l.Gates)}, {Inv(h)}, {Inv(src.Width)}, {Inv(v)}, {Inv(src.SegmentWidth)}, {Inv(src.SegmentStride)}, {p["weight_ih_l" + sfx]}, c0, c1);");
            w.Line($"{S}.UnpackGateInterleavedAdd({At("_gWh", slot.Wh)}, {Inv(l.Gates)}, {Inv(h)}, {Inv(h)}, {Inv(v)}, {Inv(h)}, {Inv(h)}, {p["weight_hh_l" + sfx]}, c0, c1);");
            if (l.Bias)
            {
                w.Line($"{S}.UnpackGateBiasAdd({At("_gB", slot.B)}, {Inv(l.Gates)}, {Inv(h)}, {Inv(v)}, {p["bias_ih_l" + sfx]}, c0, c1);");
                w.Line($"{S}.UnpackGateBiasAdd({At(gru ? "_gBh" : "_gB", slot.B)}, {Inv(l.Gates)}, {Inv(h)}, {Inv(v)}, {p["bias_hh_l" + sfx]}, c0, c1);");
            }
        }

        w.Line();
    }

    /// <summary>
    /// A layer and direction's weight-gradient sums over this workspace's rows, columns [c0, c1): with lengths, over the
    /// packed rows in order; without, group by group of <c>KernelLayout.RowTile</c> sequences, each group step by step.
    /// A sub-batch's boundaries fall between groups, so its groups summed after the previous sub-batch's are the one-thread
    /// order: the same sums on any number of threads.
    /// </summary>
    private static void WriteWeightGradRows(SourceWriter w, ModelPlan plan, StagePlan s, int layer, int d, string k)
    {
        LayerSpec l = s.Layer;
        int d2 = l.Directions;
        int hp = s.Padded;
        int h = l.HiddenSize;
        int n = l.Gates * hp;
        int index = (layer * d2) + d;
        bool gru = l.Kind == LayerKind.Gru;
        RowSource src = s.LayerInput(layer);
        string srcBuffer = layer > 0 && HasDropout(l) ? $"_drop{s.Index}_{Inv(layer)}" : src.Buffer;
        string seq = $"_seq{s.Index}_{Inv(layer)}";
        string stride = Inv(src.RowStride);
        string dGh = gru ? $"_dGh{s.Index}" : $"_dG{s.Index}";
        string inputGrad = $"{k}.{WeightGradName(src, n)}";
        string hGrad = $"{k}.{WeightGradName(new RowSource(seq, d2 * hp, h, hp, 1), n)}";
        string stateFirst = index == 0 ? "q * " + Inv(hp) : $"({Scaled(index, "batch * " + Inv(hp))}) + (q * {Inv(hp)})";
        string span = "global::System.Span<float>";
        w.Line($"/// <summary>({(l.Name ?? Inv(s.Index))}) layer {Inv(layer)}, {(d == 0 ? "forward" : "reverse")}: its weight gradients' sums over this workspace's rows, columns [c0, c1), added into the scratch.</summary>");
        using (w.Block($"private void WeightGradRows{s.Index}_{Tag(layer, d)}({span} gW, {span} gWh, {span} gB, {(gru ? span + " gBh, " : string.Empty)}int c0, int c1)"))
        {
            w.Line("int batch = _lengths.Batch;");
            w.Line("int seqLen = _lengths.SeqLen;");
            w.Line("int rows = _lengths.Rows;");
            using (w.Block("if (_lengths.IsRagged)"))
            {
                w.Line($"{inputGrad}({srcBuffer}, {stride}, _dG{s.Index}, gW, 1, rows, 0, c0, c1);");
                w.Line("// A row's previous hidden state is a row of another step, a different number each step, or h0 where the sequence");
                w.Line("// starts: the back-through-time job put each beside its gate gradients (SequenceLengths.PreviousStates).");
                w.Line($"{hGrad}(_gx{s.Index}.AsSpan({Scaled(index, "rows * " + Inv(n))}), {Inv(n)}, {dGh}, gWh, 1, rows, 0, c0, c1);");
                if (l.Bias)
                {
                    w.Line($"{S}.AddColumnSums(_dG{s.Index}, rows, {Inv(n)}, gB, c0, c1);");
                    if (gru)
                    {
                        w.Line($"{S}.AddColumnSums(_dGh{s.Index}, rows, {Inv(n)}, gBh, c0, c1);");
                    }
                }

                w.Line("return;");
            }

            w.Line();
            w.Line("// Group by group of sequences, each step by step; W_hh's rows pair each step's gate gradients with the step before's");
            w.Line($"// hidden states{(d == 1 ? " (the step after's, in this reverse direction)" : string.Empty)}, then the first step's with the initial states.");
            using (w.Block($"for (int q = 0; q < batch; q += {Inv(KernelLayout.RowTile)})"))
            {
                w.Line($"int group = global::System.Math.Min({Inv(KernelLayout.RowTile)}, batch - q);");
                string slot = GateGradSlot(plan, s, index);
                w.Line($"{inputGrad}({srcBuffer}.AsSpan(q * {stride}), {stride}, _dG{s.Index}.AsSpan({InSlot(slot, $"q * {Inv(n)}")}), gW, seqLen, group, batch, c0, c1);");
                string prev = d == 0 ? $"{seq}.AsSpan(q * {Inv(d2 * hp)})" : $"{seq}.AsSpan(((batch + q) * {Inv(d2 * hp)}) + {Inv(d * hp)})";
                string later = d == 0 ? $"{dGh}.AsSpan({InSlot(slot, $"(batch + q) * {Inv(n)}")})" : $"{dGh}.AsSpan({InSlot(slot, $"q * {Inv(n)}")})";
                string firstGrads = d == 0 ? $"{dGh}.AsSpan({InSlot(slot, $"q * {Inv(n)}")})" : $"{dGh}.AsSpan({InSlot(slot, $"(((seqLen - 1) * batch) + q) * {Inv(n)}")})";
                w.Line($"if (seqLen > 1) {hGrad}({prev}, {Inv(d2 * hp)}, {later}, gWh, seqLen - 1, group, batch, c0, c1);");
                w.Line($"{hGrad}(_h0_{s.Index}.AsSpan({stateFirst}), {Inv(hp)}, {firstGrads}, gWh, 1, group, 0, c0, c1);");
                if (l.Bias)
                {
                    w.Line($"{S}.AddColumnSums(_dG{s.Index}.AsSpan({InSlot(slot, $"q * {Inv(n)}")}), seqLen, group, batch, {Inv(n)}, gB, c0, c1);");
                    if (gru)
                    {
                        w.Line($"{S}.AddColumnSums(_dGh{s.Index}.AsSpan({InSlot(slot, $"q * {Inv(n)}")}), seqLen, group, batch, {Inv(n)}, gBh, c0, c1);");
                    }
                }
            }
        }

        w.Line();
    }

    /// <summary>
    /// The cases of <c>RunPart</c> for the backward jobs of every layer and direction: back through time and the layer
    /// input's gradient for the part's sequences, then the weight gradients for the part's columns.
    /// </summary>
    private static void WriteBackwardJobCases(SourceWriter w, ModelPlan plan)
    {
        string k = KernelClass(plan);
        int v = plan.Isa.Width;
        int columnBlock = WeightGradColumnVectors * v;
        foreach ((StagePlan s, int layer, int d) in JobSites(plan))
        {
            LayerSpec l = s.Layer;
            int d2 = l.Directions;
            int hp = s.Padded;
            int h = l.HiddenSize;
            int n = l.Gates * hp;
            int index = (layer * d2) + d;
            bool gru = l.Kind == LayerKind.Gru;
            string tag = Tag(layer, d);
            RowSource src = s.LayerInput(layer);
            string seq = $"_seq{s.Index}_{Inv(layer)}";
            string stateOffset = $"{Scaled(index, "batch * " + Inv(hp))}";
            string name = $"({(l.Name ?? Inv(s.Index))}) layer {Inv(layer)}, {(d == 0 ? "forward" : "reverse")}";
            int job = BackwardJobIndex(plan, s, layer, d);
            using (w.Block($"case {Inv(job)}: // {name}, back through time"))
            {
                string gates = $"_gx{s.Index}.AsSpan({Scaled(index, "rows * " + Inv(n))})";
                string aux = $"_aux{s.Index}.AsSpan({Scaled(index, "rows * " + Inv(hp))})";
                string dSeq = $"_d{seq}.AsSpan({Inv(d * hp)})";
                string dG = GateGrads(plan, s, index, $"_dG{s.Index}");
                string slot = GateGradSlot(plan, s, index);
                string call = l.Kind switch
                {
                    LayerKind.Lstm => $"{gates}, {aux}, _c{s.Index}.AsSpan({stateOffset}), _wT{s.Index}_{tag}_hh, {dSeq}, {Inv(d2 * hp)}, {dG}, _dh{s.Index}, _dc{s.Index}",
                    LayerKind.Gru => $"{gates}, {aux}, _h0_{s.Index}.AsSpan({stateOffset}), {seq}.AsSpan({Inv(d * hp)}), _wT{s.Index}_{tag}_hh, {dSeq}, {Inv(d2 * hp)}, {dG}, {GateGrads(plan, s, index, $"_dGh{s.Index}")}, _dh{s.Index}",
                    _ => $"{seq}.AsSpan({Inv(d * hp)}), _wT{s.Index}_{tag}_hh, {dSeq}, {Inv(d2 * hp)}, {dG}, _dh{s.Index}",
                };
                w.Line($"{k}.{BackwardName(l, h)}({call}, batch, seqLen, reverse: {(d == 1 ? "true" : "false")}, b0, b1, _lengths.Steps);");
                w.Line("// With lengths, the states each row started from go beside its gate gradients, over the gates just consumed (stride");
                w.Line($"// {Inv(n)}, only this part's rows): the weight job's hidden-weight gradient is then one product over every row.");
                w.Line($"if (_lengths.IsRagged) _lengths.PreviousStates({seq}.AsSpan({Inv(d * hp)}), {Inv(d2 * hp)}, _h0_{s.Index}.AsSpan({stateOffset}), {Inv(hp)}, reverse: {(d == 1 ? "true" : "false")}, b0, b1, {gates}, {Inv(n)});");
                var gateRows = new RowSource(string.Empty, n, n, n, 1);
                int width = plan.Isa.Pad(src.PackedRows);
                string dense = $"{k}.{DenseName(gateRows, width, Activation.None, d == 0 ? DenseInit.Zero : DenseInit.Accumulate)}";
                string gradIn = Grad(src);
                string condition = InputGradCondition(src);
                using (w.Block(condition == "true" ? "// The layer input's gradient, W_ih^T d(gates): one call when the part is the whole batch, else one per step." : $"if ({condition}) // the layer input's gradient, W_ih^T d(gates): one call when the part is the whole batch, else one per step"))
                {
                    using (w.Block("if (b1 - b0 == batch)"))
                    {
                        w.Line($"{dense}({dG}, {Inv(n)}, _wT{s.Index}_{tag}_ih, default, {gradIn}, rows);");
                    }

                    using (w.Block("else"))
                    {
                        using (w.Block("for (int t = 0; t < seqLen; t++)"))
                        {
                            w.Line("int row = _lengths.Row(t) + b0;");
                            w.Line("int count = _lengths.End(t, b0, b1) - b0;");
                            w.Line($"if (count > 0) {dense}(_dG{s.Index}.AsSpan({InSlot(slot, $"row * {Inv(n)}")}), {Inv(n)}, _wT{s.Index}_{tag}_ih, default, {gradIn}.AsSpan(row * {Inv(width)}), count);");
                        }
                    }
                }

                w.Line("break;");
            }

            using (w.Block($"case {Inv(job + 1)}: // {name}, weight gradients"))
            {
                string rows = $"WeightGradRows{s.Index}_{tag}({ScratchArgs(plan, s, layer, d)}";
                w.Line($"// Columns [c0, c1) of the {Inv(n)}, in whole blocks of {Inv(columnBlock)}.");
                w.Line($"int c0 = {Inv((n + columnBlock - 1) / columnBlock)} * part / parts * {Inv(columnBlock)};");
                w.Line($"int c1 = part + 1 == parts ? {Inv(n)} : {Inv((n + columnBlock - 1) / columnBlock)} * (part + 1) / parts * {Inv(columnBlock)};");
                w.Line($"{rows}c0, c1);");
                w.Line($"WeightGradsInto{s.Index}_{tag}(c0, c1);");
                w.Line("break;");
            }
        }
    }

    private static void WriteEnsureBackwardWorkspace(SourceWriter w, ModelPlan plan)
    {
        w.Line("/// <summary>Grows the backward workspace to a batch of <paramref name=\"batch\"/> sequences of <paramref name=\"seqLen\"/> steps.</summary>");
        using (w.Block("private void EnsureBackwardWorkspace(int batch, int seqLen)"))
        {
            w.Line("int rows = batch * seqLen;");
            w.Line("EnsureBackwardWeights();");
            foreach ((string field, string length, string _) in BackwardWorkspace(plan))
            {
                w.Line($"{S}.Ensure(ref {field}, {length});");
            }
        }

        w.Line();
        w.Line("/// <summary>Allocates the output-major weights and the weight-gradient scratch, once.</summary>");
        using (w.Block("private void EnsureBackwardWeights()"))
        {
            foreach ((string field, int length, string _) in TransposedBuffers(plan))
            {
                w.Line($"{S}.Ensure(ref {field}, {Inv(length)});");
            }

            (int weight, int hidden, int bias) = ScratchLengths(plan);
            w.Line($"{S}.Ensure(ref _gW, {Inv(weight)});");
            w.Line($"{S}.Ensure(ref _gB, {Inv(bias)});");
            if (HasJobs(plan))
            {
                w.Line($"{S}.Ensure(ref _gWh, {Inv(hidden)});");
                if (plan.Stages.Any(s => s.Layer.Kind == LayerKind.Gru))
                {
                    w.Line($"{S}.Ensure(ref _gBh, {Inv(bias)});");
                }
            }
        }

        w.Line();
    }

    /// <summary>
    /// Where a layer and direction's gate gradients start in <c>_dG</c> (and <c>_dGh</c>), as the start of an offset
    /// expression: every layer and direction shares the stage's buffer when its weight gradients follow its own
    /// back-through-time job, but a sub-batch of a training pass leaves them to the parent (<c>_deferWeightGrads</c>),
    /// after every layer has gone back through time, so each keeps its own slot.
    /// </summary>
    private static string GateGradSlot(ModelPlan plan, StagePlan s, int index) =>
        HasTrainingSubBatches(plan) && index > 0 ? $"(_deferWeightGrads ? {Scaled(index, "rows * " + Inv(s.Layer.Gates * s.Padded))} : 0) + " : string.Empty;

    /// <summary>An offset into a layer and direction's slot of gate gradients: <paramref name="offset"/> past the slot's start.</summary>
    private static string InSlot(string slot, string offset) => slot.Length == 0 ? offset : $"{slot}({offset})";

    /// <summary>A gate-gradient buffer from a layer and direction's slot (<see cref="GateGradSlot"/>).</summary>
    private static string GateGrads(ModelPlan plan, StagePlan s, int index, string buffer) =>
        GateGradSlot(plan, s, index) is { Length: > 0 } slot ? $"{buffer}.AsSpan({slot.Substring(1, slot.Length - 5)})" : buffer;

    /// <summary>The job number of a sub-batch's whole backward pass in <c>RunPart</c>.</summary>
    private const string SubBatchBackwardJob = "-2";

    /// <summary>
    /// Backward of a training pass that ran in sub-batches (<see cref="WriteSubBatches"/>): each thread takes its sub-batch
    /// back through every stage in the workspace that kept its activations, then goes on, in the same region, into its
    /// rows of every recurrent layer's weight gradients, block by block after the sub-batch before (the pipeline).
    /// </summary>
    private static void WriteBackwardSubBatches(SourceWriter w, ModelPlan plan)
    {
        if (!HasTrainingSubBatches(plan))
        {
            return;
        }

        StagePlan first = plan.FirstRecurrent!;
        RowSource input = plan.Stages[0].Input;
        string workers = "global::Deepbox.CompilerServices.Workers";
        // The region of the backward passes goes on into every layer's weight gradients (after the line that sets
        // _subApart): their scratch zeroed and the pipeline started before it.
        var sites = WeightGradSites(plan).ToList();
        string regionStart =
            "\n    // Every layer's weight gradients follow each sub-batch's backward pass in the same region (WeightGradPipeline):" +
            "\n    // the first sub-batch's thread starts on them while the others still go back through time." +
            string.Concat(sites.Select(x => $"\n    ClearWeightGrads{x.Stage.Index}_{Tag(x.Layer, x.Direction)}();")) +
            "\n    _pipeline.Begin(parts);";
        w.Lines($$"""
            /// <summary>
            /// Backward of a training pass that ran in sub-batches (ForwardSubBatches): each thread takes its sub-batch back through
            /// every stage in the workspace that kept its activations, then adds its rows into every recurrent layer's weight
            /// gradients, each block of columns once the sub-batch before has: the sub-batches' rows in order, each group of
            /// sequences step by step, one thread's order, so the same gradients on any number of threads. A Linear head's
            /// weight gradients follow on the caller.
            /// </summary>
            private void BackwardSubBatches(int batch, int seqLen, {{RoSpan}} gradOutput, {{RoSpan}} gradH, {{RoSpan}} gradC, {{Span}} gradInput, {{Span}} gradH0, {{Span}} gradC0)
            {
                int parts = _subParts;
                {{workers}}.Wake(parts); // a blocked worker wakes while the caller sets the sub-batches up
                EnsureBackwardWeights();
                PackTransposedWeights();
                // Each thread copies its sub-batch's rows of the output's gradient in and of the input's out, unless the two overlap.
                bool apart = !gradOutput.Overlaps(gradInput);
                for (int p = 0; p < parts; p++)
                {
                    _subBatches[p].BeginBackwardSubBatch(this, gradH, gradC, !gradInput.IsEmpty, !gradH0.IsEmpty, !gradC0.IsEmpty);
                    if (!apart) _subBatches[p].BackwardSubBatchIn(gradOutput);
                }

                _job = {{SubBatchBackwardJob}};
                _subApart = apart;{{regionStart}}
                _callerSpans.Run(apart ? gradOutput : default, apart ? gradInput : default, this, parts, last: true, _subPlacement); // each sub-batch on the core that ran its forward pass
                WeightGradients(batch, seqLen);
                for (int p = 0; p < parts; p++)
                {
                    if (!apart) _subBatches[p].BackwardSubBatchOut(gradInput);
                    _subBatches[p].EndBackwardSubBatch(gradH0, gradC0);
                }
            }

            """);
        w.Line("/// <summary>Takes this sub-batch's slices of the final states' gradients Backward was given; the weights' output-major copies are the parent's.</summary>");
        using (w.Block($"private void BeginBackwardSubBatch(Workspace parent, {RoSpan} gradH, {RoSpan} gradC, bool wantGradInput, bool wantGradH0, bool wantGradC0)"))
        {
            w.Line("W = parent.W;");
            w.Line("_threads = 1;");
            w.Line("_inputGrad = wantGradInput;");
            w.Line("_deferWeightGrads = true;");
            w.Line("int batch = _sub.Batch;");
            w.Line("int seqLen = _sub.SeqLen;");
            foreach ((string field, int _, string _) in TransposedBuffers(plan))
            {
                w.Line($"{field} = parent.{field};");
            }

            w.Line("EnsureBackwardWorkspace(batch, seqLen);");
            w.Line($"_subGrad.Begin(_sub.CallerBatch, _sub.First, batch, seqLen, {Inv(first.Layer.NumLayers * first.Layer.Directions)}, {Inv(first.Layer.HiddenSize)}, gradH, gradC, wantGradH0, wantGradC0);");
        }

        w.Line();
        w.Line("/// <summary>The sub-batch's rows of the caller's output gradient, as rows of the last stage's output layout.</summary>");
        using (w.Block($"private void BackwardSubBatchIn({RoSpan} gradOutput)"))
        {
            w.Line("int batch = _sub.Batch;");
            w.Line("int seqLen = _sub.SeqLen;");
            if (plan.Output.LastStepOnly)
            {
                w.Line("int rows = _lengths.Rows;");
            }

            WriteGradOutputIn(w, plan, subBatch: true);
        }

        w.Lines($$"""

            /// <summary>The sub-batch's backward pass through every stage, on the thread that took it (the weight gradients are left to the parent).</summary>
            private void RunBackwardSubBatch() => BackwardStages(_sub.Batch, _sub.SeqLen, _subGrad.H0, _subGrad.C0, _subGrad.HN, _subGrad.CN);

            /// <summary>The sub-batch's rows of the input's gradient into the caller's, when the caller wants it.</summary>
            private void BackwardSubBatchOut({{Span}} gradInput)
            {
                if (!gradInput.IsEmpty) {{S}}.FromTimeMajor({{Grad(input)}}, {{Inv(GradStride(plan, input))}}, {{Inv(plan.InputSize)}}, {{Inv(plan.InputSize)}}, 1, _sub.Batch, _sub.SeqLen, BatchFirst, gradInput, _sub.CallerBatch, _sub.First);
            }

            /// <summary>The sub-batch's initial states' gradients into the caller's.</summary>
            private void EndBackwardSubBatch({{Span}} gradH0, {{Span}} gradC0) => _subGrad.End(gradH0, gradC0);

            /// <summary>Every weight gradient of the pass, over its sub-batches' rows (each layer's split across threads by columns).</summary>
            """);
        using (w.Block("private void WeightGradients(int batch, int seqLen)"))
        {
            w.Line("// Every recurrent layer's: summed in the backward passes' region (WeightGradPipeline).");
            foreach (StagePlan s in Enumerable.Reverse(plan.Stages).Where(s => s.Layer.Kind == LayerKind.Linear))
            {
                w.Line($"LinearWeightGrads{s.Index}();");
            }
        }
    }

    private static void WritePackTransposed(SourceWriter w, ModelPlan plan)
    {
        int v = plan.Isa.Width;
        w.Line("/// <summary>");
        w.Line("/// Packs the parameters output-major, the layout the input and hidden-state gradient products read, unless that version");
        w.Line("/// is packed, from the values the Forward before this Backward was packed from: a Forward and its Backward see one version");
        w.Line("/// of the parameters (PyTorch raises an error when they change in between).");
        w.Line("/// </summary>");
        using (w.Block("private void PackTransposedWeights()"))
        {
            using (w.Block("if (_packedTransposedVersion == W.Version)"))
            {
                w.Line("return;");
            }

            w.Line();
            w.Line("_packedTransposedVersion = W.Version;");
            foreach (StagePlan s in plan.Stages)
            {
                LayerSpec l = s.Layer;
                Dictionary<string, string> p = SnapshotSlices(plan, s, "W.Snapshot");
                if (l.IsRecurrent)
                {
                    for (int layer = 0; layer < l.NumLayers; layer++)
                    {
                        RowSource src = s.LayerInput(layer);
                        for (int d = 0; d < l.Directions; d++)
                        {
                            string sfx = Inv(layer) + (d == 1 ? "_reverse" : string.Empty);
                            string tag = Tag(layer, d);
                            w.Line($"{S}.PackTransposed({p["weight_ih_l" + sfx]}, {Inv(l.Gates)}, {Inv(l.HiddenSize)}, {Inv(src.Width)}, {Inv(v)}, {Inv(src.SegmentWidth)}, {Inv(src.SegmentStride)}, {Inv(plan.Isa.Pad(src.PackedRows))}, _wT{s.Index}_{tag}_ih);");
                            w.Line($"{S}.PackTransposed({p["weight_hh_l" + sfx]}, {Inv(l.Gates)}, {Inv(l.HiddenSize)}, {Inv(l.HiddenSize)}, {Inv(v)}, {Inv(l.HiddenSize)}, {Inv(l.HiddenSize)}, {Inv(s.Padded)}, _wT{s.Index}_{tag}_hh);");
                        }
                    }
                }
                else if (l.Kind == LayerKind.Linear)
                {
                    RowSource src = s.Input;
                    w.Line($"{S}.PackTransposed({p["weight"]}, 1, {Inv(l.HiddenSize)}, {Inv(src.Width)}, {Inv(v)}, {Inv(src.SegmentWidth)}, {Inv(src.SegmentStride)}, {Inv(plan.Isa.Pad(src.PackedRows))}, _wT{s.Index});");
                }
            }
        }
    }
}
