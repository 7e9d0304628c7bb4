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
            yield return ($"_dG{s.Index}", $"rows * {Inv(n)}", $"({Inv(s.Index)}) gradients of the gate pre-activations, input side");
            if (s.Layer.Kind == LayerKind.Gru)
            {
                yield return ($"_dGh{s.Index}", $"rows * {Inv(n)}", $"({Inv(s.Index)}) gradients of the gate pre-activations, hidden side (n differs: r * dn)");
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
        w.Line("private float[] _gW = []; // one weight gradient in the packed layout (a layer's W_ih, or a Linear's weight)");
        w.Line("private float[] _gB = []; // one bias gradient in the packed layout");
        if (HasJobs(plan))
        {
            w.Line("private float[] _gWh = []; // a recurrent layer's W_hh gradient in the packed layout");
            if (plan.Stages.Any(s => s.Layer.Kind == LayerKind.Gru))
            {
                w.Line("private float[] _gBh = []; // a GRU layer's b_hh gradient in the packed layout (its n gate differs from b_ih's)");
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
            w.Line("int rows = _lengths.Rows; // as the forward pass laid them out");
            w.Line("EnsureBackwardWorkspace(batch, seqLen);");
            w.Line("PackTransposedWeights();");
            RowSource o = plan.Output;
            w.Line("// The output gradient as rows of the last stage's output layout.");
            if (o.LastStepOnly)
            {
                w.Line($"{Grad(o)}.AsSpan(0, rows * {Inv(o.RowStride)}).Clear();");
            }

            w.Line($"if (_lengths.IsRagged) _lengths.ToRows(gradOutput, {Inv(o.RowStride)}, {Inv(o.SegmentWidth)}, {Inv(o.SegmentStride)}, {Inv(o.Segments)}, BatchFirst, {GradSlice(o)}, collapsed: {(o.Collapsed ? "true" : "false")});");
            w.Line($"else {S}.ToTimeMajorRows(gradOutput, {Inv(o.RowStride)}, {Inv(o.SegmentWidth)}, {Inv(o.SegmentStride)}, {Inv(o.Segments)}, batch, {(o.Collapsed ? "1" : "seqLen")}, BatchFirst, {GradSlice(o)});");
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
                        WriteLinearBackward(w, plan, s, k, v);
                        break;
                    default:
                        w.Line(s == first ? $"BackwardStage{s.Index}(batch, seqLen, gradH, gradC, gradH0, gradC0);" : $"BackwardStage{s.Index}(batch, seqLen, default, default, default, default);");
                        break;
                }
            }

            RowSource input = plan.Stages[0].Input;
            w.Line("// The input gradient in the caller's layout.");
            using (w.Block("if (!gradInput.IsEmpty)"))
            {
                w.Line($"if (_lengths.IsRagged) _lengths.FromRows({Grad(input)}, {Inv(GradStride(plan, input))}, {Inv(plan.InputSize)}, {Inv(plan.InputSize)}, 1, BatchFirst, gradInput, collapsed: false);");
                w.Line($"else {S}.FromTimeMajor({Grad(input)}, {Inv(GradStride(plan, input))}, {Inv(plan.InputSize)}, {Inv(plan.InputSize)}, 1, batch, seqLen, BatchFirst, gradInput);");
            }
        }

        w.Line();
        foreach (StagePlan s in plan.Stages.Where(s => s.Layer.IsRecurrent))
        {
            WriteRecurrentBackwardStage(w, plan, s, k, v);
        }

        WriteEnsureBackwardWorkspace(w, plan);
        WritePackTransposed(w, plan);
    }

    /// <summary>The gradient span of a source as its readers see it (from the last step's rows after <c>LastStep</c>).</summary>
    private static string GradSlice(RowSource src) => src.LastStepOnly
        ? $"(_lengths.IsRagged ? _d_last.AsSpan() : {Grad(src)}.AsSpan((seqLen - 1) * batch * {Inv(src.RowStride)}))"
        : Grad(src);

    private static void WriteLinearBackward(SourceWriter w, ModelPlan plan, StagePlan s, string k, int v)
    {
        LayerSpec l = s.Layer;
        RowSource src = s.Input;
        string rowsOut = s.Input.Collapsed ? "batch" : "rows";
        Dictionary<string, string> p = s.Parameters.ToDictionary(x => x.Name.Substring(s.Prefix.Length), x => "_model." + x.Field + ".Grad.AsSpan()");
        if (l.Activation != Activation.None)
        {
            w.Line($"{S}.ActivationBackward(global::Deepbox.Activation.{l.Activation}, _y{s.Index}.AsSpan(0, {rowsOut} * {Inv(s.Padded)}), _d_y{s.Index}.AsSpan(0, {rowsOut} * {Inv(s.Padded)}));");
        }

        int packed = src.PackedRows * s.Padded;
        w.Line($"_gW.AsSpan(0, {Inv(packed)}).Clear();");
        w.Line($"{k}.{WeightGradName(src, s.Padded)}({Slice(src)}, {Inv(src.RowStride)}, _d_y{s.Index}, _gW, {rowsOut}, 0, {Inv(s.Padded)});");
        w.Line($"{S}.UnpackGateInterleavedAdd(_gW, 1, {Inv(l.HiddenSize)}, {Inv(src.Width)}, {Inv(v)}, {Inv(src.SegmentWidth)}, {Inv(src.SegmentStride)}, {p["weight"]});");
        if (l.Bias)
        {
            w.Line($"_gB.AsSpan(0, {Inv(s.Padded)}).Clear();");
            w.Line($"{S}.AddColumnSums(_d_y{s.Index}, {rowsOut}, {Inv(s.Padded)}, _gB);");
            w.Line($"{S}.UnpackGateBiasAdd(_gB, 1, {Inv(l.HiddenSize)}, {Inv(v)}, {p["bias"]});");
        }

        if (src.LastStepOnly)
        {
            w.Line($"{Grad(src)}.AsSpan(0, rows * {Inv(src.RowStride)}).Clear();");
        }

        RowSource gradRows = new("", s.Padded, s.Padded, s.Padded, 1);
        w.Line($"{k}.{DenseName(gradRows, plan.Isa.Pad(src.PackedRows), Activation.None, DenseInit.Zero)}(_d_y{s.Index}, {Inv(s.Padded)}, _wT{s.Index}, default, {GradSlice(src)}, {rowsOut});");
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

                    w.Line("// Weight gradients: W_ih from the layer's input, W_hh from the previous hidden states, one product over all steps, then");
                    w.Line($"// added into the parameters' gradients; split by columns (blocks of {Inv(WeightGradColumnVectors * v)}), each summed over the rows in order whichever");
                    w.Line("// thread computes it.");
                    w.Line($"_gW.AsSpan(0, {Inv(src.PackedRows * n)}).Clear();");
                    w.Line($"_gWh.AsSpan(0, {Inv(h * n)}).Clear();");
                    if (l.Bias)
                    {
                        w.Line($"_gB.AsSpan(0, {Inv(n)}).Clear();");
                        if (gru)
                        {
                            w.Line($"_gBh.AsSpan(0, {Inv(n)}).Clear();");
                        }
                    }

                    bool last = s == lastStage && layer == lastLayer && d == l.Directions - 1;
                    int blocks = (n + (WeightGradColumnVectors * v) - 1) / (WeightGradColumnVectors * v);
                    w.Line($"Fork({Inv(job + 1)}, batch, seqLen, rowWork: 2 * {Inv(n)} * ({Inv(src.PackedRows)} + {Inv(h)}), last: {(last ? "true" : "false")}, maxParts: {Inv(blocks)});");
                }

                if (layer > 0 && HasDropout(l))
                {
                    w.Line($"// Through the dropout mask on layer {Inv(layer)}'s input.");
                    w.Line($"{S}.Multiply({gradIn}.AsSpan(0, rows * {Inv(d2 * hp)}), _mask{s.Index}_{Inv(layer)}, {gradIn}.AsSpan(0, rows * {Inv(d2 * hp)}));");
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
            string srcBuffer = layer > 0 && HasDropout(l) ? $"_drop{s.Index}_{Inv(layer)}" : src.Buffer;
            string seq = $"_seq{s.Index}_{Inv(layer)}";
            string stateOffset = $"{Scaled(index, "batch * " + Inv(hp))}";
            string name = $"({(l.Name ?? Inv(s.Index))}) layer {Inv(layer)}, {(d == 0 ? "forward" : "reverse")}";
            int job = BackwardJobIndex(plan, s, layer, d);
            using (w.Block($"case {Inv(job)}: // {name}, back through time"))
            {
                string gates = $"_gx{s.Index}.AsSpan({Scaled(index, "rows * " + Inv(n))})";
                string aux = $"_aux{s.Index}.AsSpan({Scaled(index, "rows * " + Inv(hp))})";
                string dSeq = $"_d{seq}.AsSpan({Inv(d * hp)})";
                string call = l.Kind switch
                {
                    LayerKind.Lstm => $"{gates}, {aux}, _c{s.Index}.AsSpan({stateOffset}), _wT{s.Index}_{tag}_hh, {dSeq}, {Inv(d2 * hp)}, _dG{s.Index}, _dh{s.Index}, _dc{s.Index}",
                    LayerKind.Gru => $"{gates}, {aux}, _h0_{s.Index}.AsSpan({stateOffset}), {seq}.AsSpan({Inv(d * hp)}), _wT{s.Index}_{tag}_hh, {dSeq}, {Inv(d2 * hp)}, _dG{s.Index}, _dGh{s.Index}, _dh{s.Index}",
                    _ => $"{seq}.AsSpan({Inv(d * hp)}), _wT{s.Index}_{tag}_hh, {dSeq}, {Inv(d2 * hp)}, _dG{s.Index}, _dh{s.Index}",
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
                        w.Line($"{dense}(_dG{s.Index}, {Inv(n)}, _wT{s.Index}_{tag}_ih, default, {gradIn}, rows);");
                    }

                    using (w.Block("else"))
                    {
                        using (w.Block("for (int t = 0; t < seqLen; t++)"))
                        {
                            w.Line("int row = _lengths.Row(t) + b0;");
                            w.Line("int count = _lengths.End(t, b0, b1) - b0;");
                            w.Line($"if (count > 0) {dense}(_dG{s.Index}.AsSpan(row * {Inv(n)}), {Inv(n)}, _wT{s.Index}_{tag}_ih, default, {gradIn}.AsSpan(row * {Inv(width)}), count);");
                        }
                    }
                }

                w.Line("break;");
            }

            using (w.Block($"case {Inv(job + 1)}: // {name}, weight gradients"))
            {
                w.Line($"// Columns [c0, c1) of the {Inv(n)}, in whole blocks of {Inv(columnBlock)}.");
                w.Line($"int c0 = {Inv((n + columnBlock - 1) / columnBlock)} * part / parts * {Inv(columnBlock)};");
                w.Line($"int c1 = part + 1 == parts ? {Inv(n)} : {Inv((n + columnBlock - 1) / columnBlock)} * (part + 1) / parts * {Inv(columnBlock)};");
                w.Line($"{k}.{WeightGradName(src, n)}({srcBuffer}, {Inv(src.RowStride)}, _dG{s.Index}, _gW, rows, c0, c1);");
                string dGh = gru ? $"_dGh{s.Index}" : $"_dG{s.Index}";
                var hSource = new RowSource(seq, d2 * hp, h, hp, 1);
                string hGrad = WeightGradName(hSource, n);
                string prevRows = d == 0 ? $"{seq}.AsSpan({Inv(d * hp)})" : $"{seq}.AsSpan((batch * {Inv(d2 * hp)}) + {Inv(d * hp)})";
                string laterGrads = d == 0 ? $"{dGh}.AsSpan(batch * {Inv(n)})" : dGh;
                using (w.Block("if (_lengths.IsRagged)"))
                {
                    w.Line("// With lengths, a row's previous hidden state is a row of another step, a different number each step, or h0 where the");
                    w.Line("// sequence starts: the back-through-time job put each beside its gate gradients (SequenceLengths.PreviousStates).");
                    w.Line($"{k}.{hGrad}(_gx{s.Index}.AsSpan({Scaled(index, "rows * " + Inv(n))}), {Inv(n)}, {dGh}, _gWh, rows, c0, c1);");
                }

                using (w.Block("else"))
                {
                    w.Line($"if (seqLen > 1) {k}.{hGrad}({prevRows}, {Inv(d2 * hp)}, {laterGrads}, _gWh, (seqLen - 1) * batch, c0, c1);");
                    string firstGrads = d == 0 ? dGh : $"{dGh}.AsSpan((seqLen - 1) * batch * {Inv(n)})";
                    w.Line($"{k}.{hGrad}(_h0_{s.Index}.AsSpan({stateOffset}), {Inv(hp)}, {firstGrads}, _gWh, batch, c0, c1);");
                }
                if (l.Bias)
                {
                    w.Line($"{S}.AddColumnSums(_dG{s.Index}, rows, {Inv(n)}, _gB, c0, c1);");
                    if (gru)
                    {
                        w.Line($"{S}.AddColumnSums(_dGh{s.Index}, rows, {Inv(n)}, _gBh, c0, c1);");
                    }
                }

                string sfx = Inv(layer) + (d == 1 ? "_reverse" : string.Empty);
                Dictionary<string, string> p = s.Parameters.ToDictionary(x => x.Name.Substring(s.Prefix.Length), x => "_model." + x.Field + ".Grad.AsSpan()");
                w.Line("// Into the parameters' gradients (PyTorch's layout): these columns are these gate rows, which no other part touches.");
                w.Line($"{S}.UnpackGateInterleavedAdd(_gW, {Inv(l.Gates)}, {Inv(h)}, {Inv(src.Width)}, {Inv(v)}, {Inv(src.SegmentWidth)}, {Inv(src.SegmentStride)}, {p["weight_ih_l" + sfx]}, c0, c1);");
                w.Line($"{S}.UnpackGateInterleavedAdd(_gWh, {Inv(l.Gates)}, {Inv(h)}, {Inv(h)}, {Inv(v)}, {Inv(h)}, {Inv(h)}, {p["weight_hh_l" + sfx]}, c0, c1);");
                if (l.Bias)
                {
                    w.Line($"{S}.UnpackGateBiasAdd(_gB, {Inv(l.Gates)}, {Inv(h)}, {Inv(v)}, {p["bias_ih_l" + sfx]}, c0, c1);");
                    w.Line($"{S}.UnpackGateBiasAdd({(gru ? "_gBh" : "_gB")}, {Inv(l.Gates)}, {Inv(h)}, {Inv(v)}, {p["bias_hh_l" + sfx]}, c0, c1);");
                }

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
            foreach ((string field, int length, string _) in TransposedBuffers(plan))
            {
                w.Line($"{S}.Ensure(ref {field}, {Inv(length)});");
            }

            foreach ((string field, string length, string _) in BackwardWorkspace(plan))
            {
                w.Line($"{S}.Ensure(ref {field}, {length});");
            }

            w.Line($"{S}.Ensure(ref _gW, {Inv(WeightScratchLength(plan))});");
            w.Line($"{S}.Ensure(ref _gB, {Inv(BiasScratchLength(plan))});");
            if (HasJobs(plan))
            {
                int hidden = plan.Stages.Where(s => s.Layer.IsRecurrent).Max(s => s.Layer.HiddenSize * s.Layer.Gates * s.Padded);
                w.Line($"{S}.Ensure(ref _gWh, {Inv(hidden)});");
                if (plan.Stages.Any(s => s.Layer.Kind == LayerKind.Gru))
                {
                    w.Line($"{S}.Ensure(ref _gBh, {Inv(BiasScratchLength(plan))});");
                }
            }
        }

        w.Line();
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
