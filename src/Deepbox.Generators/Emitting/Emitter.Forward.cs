using System.Collections.Generic;
using System.Linq;

namespace Deepbox.Generators;

/// <summary>The forward pass: public entry points, shape checks, workspace, weight packing and the stage sequence.</summary>
internal static partial class Emitter
{
    /// <summary>Whether a recurrent layer applies dropout between its stacked layers (in training).</summary>
    private static bool HasDropout(LayerSpec l) => l.IsRecurrent && l.Dropout > 0 && l.NumLayers > 1;

    private static string Tag(int layer, int direction) => Inv(layer) + (direction == 1 ? "r" : string.Empty);

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
            else if (l.Kind == LayerKind.LastStep)
            {
                yield return ("_last", $"batch * {Inv(s.Input.RowStride)}", "each sequence's row at its own last step (with lengths)");
            }
            else if (l.Kind == LayerKind.Linear)
            {
                yield return ($"_y{s.Index}", $"{(s.Input.Collapsed ? "batch" : "rows")} * {Inv(s.Padded)}", $"({Inv(s.Index)}) outputs [{(s.Input.Collapsed ? "B" : "T, B")}, {Inv(s.Padded)}]");
            }
        }
    }

    private static void WriteForwardApi(SourceWriter w, ModelPlan plan)
    {
        if (plan.Embedding is not null)
        {
            WriteTokenForwardApi(w, plan);
            return;
        }

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
            w.Line("Run(input.AsSpan(), batch, seqLen, default, default, default, output.AsSpan(), default, default, unbatched);");
            w.Line("return output;");
        }

        w.Line();
        w.Line("/// <summary>");
        w.Line("/// Runs the model on sequences of different lengths, padded to the input's <c>T</c>: what PyTorch gives for");
        w.Line("/// <c>pack_padded_sequence(input, lengths, enforce_sorted=False)</c>, the module, then <c>pad_packed_sequence(..., total_length=T)</c>.");
        w.Line("/// Each sequence runs its own steps only: its outputs past its length are 0 (whatever the padding holds), its final");
        w.Line(plan.HasLastStep
            ? "/// states are those after its last step, and <c>LastStep</c> takes its output at step <c>length - 1</c>. The time taken follows"
            : "/// states are those after its last step, and a reverse direction starts at its last step. The time taken follows");
        w.Line("/// the valid steps, not the padding.");
        WriteConcurrencyDoc(w);
        w.Line("/// </summary>");
        w.Line("/// <param name=\"input\">The padded input sequence(s).</param>");
        w.Line("/// <param name=\"lengths\">Each sequence's length, in any order, each in [1, T].</param>");
        w.Line("/// <returns>A new tensor, <c>" + OutputShapeText(plan) + "</c> (unbatched input drops the <c>B</c>).</returns>");
        w.Line("/// <exception cref=\"global::System.ArgumentException\">The input shape is wrong, or a length is missing or out of range (the message names its index and value).</exception>");
        using (w.Block($"public {T} Forward({T} input, int[] lengths)"))
        {
            w.Line("global::System.ArgumentNullException.ThrowIfNull(lengths);");
            w.Line("(int batch, int seqLen, bool unbatched) = CheckInput(input);");
            w.Line("global::Deepbox.CompilerServices.SequenceLengths.Check(lengths, batch, seqLen);");
            w.Line($"{T} output = {T}.Zeros(OutputShape(batch, seqLen, unbatched));");
            w.Line("Run(input.AsSpan(), batch, seqLen, lengths, default, default, output.AsSpan(), default, default, unbatched);");
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
            w.Line("Run(input, batch, seqLen, default, default, default, output, default, default, unbatched: false);");
        }

        w.Line();
        w.Line("/// <summary>");
        w.Line("/// The span <c>Forward</c> on sequences of different lengths, padded to <paramref name=\"seqLen\"/> steps: each runs its own steps");
        w.Line("/// only (see <c>Forward(Tensor, int[])</c>), and the output past each length is 0. Allocates nothing once the workspaces have grown.");
        WriteConcurrencyDoc(w);
        w.Line("/// </summary>");
        w.Line("/// <param name=\"input\">The input values, padded.</param>");
        w.Line("/// <param name=\"batch\">Sequences in the batch.</param>");
        w.Line("/// <param name=\"seqLen\">Time steps of the layout (the longest length, or more).</param>");
        w.Line("/// <param name=\"lengths\">Each sequence's length, in any order, each in [1, seqLen].</param>");
        w.Line("/// <param name=\"output\">Receives the output values; its length must match exactly.</param>");
        using (w.Block($"public void Forward({RoSpan} input, int batch, int seqLen, global::System.ReadOnlySpan<int> lengths, {Span} output)"))
        {
            w.Line($"{S}.CheckSequenceSizes(batch, seqLen);");
            w.Line($"{S}.CheckLength(\"input\", input.Length, batch, seqLen, InputSize);");
            w.Line($"{S}.CheckLength(\"output\", output.Length, batch, {(plan.HasLastStep ? "1" : "seqLen")}, OutputSize);");
            w.Line("global::Deepbox.CompilerServices.SequenceLengths.Check(lengths, batch, seqLen);");
            w.Line("Run(input, batch, seqLen, lengths, default, default, output, default, default, unbatched: false);");
        }

        w.Line();
        w.Line($"private static (int Batch, int SeqLen, bool Unbatched) CheckInput({T} input) => {S}.CheckInput(input, InputSize, BatchFirst);");
        w.Line();
        WriteOutputShape(w, plan);
    }

    /// <summary>The model's <c>OutputShape(batch, seqLen, unbatched)</c>: <c>[B, T, F]</c> (or <c>[T, B, F]</c>), <c>[B, F]</c> after <c>LastStep</c>.</summary>
    private static void WriteOutputShape(SourceWriter w, ModelPlan plan)
    {
        using (w.Block("private static int[] OutputShape(int batch, int seqLen, bool unbatched)"))
        {
            w.Line(plan.HasLastStep
                ? "return unbatched ? [OutputSize] : [batch, OutputSize];"
                : $"return unbatched ? [seqLen, OutputSize] : [{(plan.Spec.BatchFirst ? "batch, seqLen" : "seqLen, batch")}, OutputSize];");
        }

        w.Line();
    }

    /// <summary>
    /// The forward members of a model that starts with an <c>[Embedding]</c>: token ids in (<c>int[,]</c> or a span),
    /// with and without lengths; <see cref="IModel"/>'s float members implemented explicitly, refusing floats.
    /// </summary>
    private static void WriteTokenForwardApi(SourceWriter w, ModelPlan plan)
    {
        string layout = plan.Spec.BatchFirst ? "[B, T]" : "[T, B]";
        foreach (bool withLengths in new[] { false, true })
        {
            w.Line("/// <summary>");
            w.Line($"/// Runs the model on token ids, <c>{layout}</c>: each id picks its vector from the table, then the layers run on those.");
            w.Line(withLengths
                ? "/// With lengths (PyTorch's <c>pack_padded_sequence</c> semantics): each sequence runs its own steps only, and its outputs past its length are 0."
                : "/// Initial states are zero.");
            WriteConcurrencyDoc(w);
            w.Line("/// </summary>");
            w.Line($"/// <param name=\"tokens\">The token ids, <c>{layout}</c>, each in [0, <see cref=\"NumEmbeddings\"/>).</param>");
            if (withLengths)
            {
                w.Line("/// <param name=\"lengths\">Each sequence's length, in any order, each in [1, T].</param>");
            }

            w.Line("/// <returns>A new tensor, <c>" + OutputShapeText(plan) + "</c>.</returns>");
            w.Line("/// <exception cref=\"global::System.ArgumentOutOfRangeException\">An id is outside the vocabulary (the message names it, its position and the vocabulary size); nothing is computed.</exception>");
            using (w.Block($"public {T} Forward(int[,] tokens{(withLengths ? ", int[] lengths" : string.Empty)})"))
            {
                if (withLengths)
                {
                    w.Line("global::System.ArgumentNullException.ThrowIfNull(lengths);");
                }

                w.Line("(int batch, int seqLen, bool unbatched) = CheckTokens(tokens);");
                if (withLengths)
                {
                    w.Line("global::Deepbox.CompilerServices.SequenceLengths.Check(lengths, batch, seqLen);");
                }

                w.Line($"{T} output = {T}.Zeros(OutputShape(batch, seqLen, unbatched));");
                w.Line($"Run({S}.AsSpan(tokens), batch, seqLen, {(withLengths ? "lengths" : "default")}, default, default, output.AsSpan(), default, default, unbatched);");
                w.Line("return output;");
            }

            w.Line();
        }

        if (plan.StateStage is { } state)
        {
            WriteForwardWithState(w, plan, state);
        }

        foreach (bool withLengths in new[] { false, true })
        {
            w.Line("/// <summary>");
            w.Line($"/// Runs the model on caller-owned token ids (<c>{layout}</c>, row-major) into caller-owned memory (<c>" + OutputShapeText(plan) + "</c>),");
            w.Line(withLengths
                ? "/// each sequence its own steps only (0 past its length). Allocates nothing once the workspaces have grown."
                : "/// with zero initial states. Allocates nothing once the workspaces have grown to the largest batch and length seen.");
            WriteConcurrencyDoc(w);
            w.Line("/// </summary>");
            w.Line("/// <param name=\"tokens\">The token ids.</param>");
            w.Line("/// <param name=\"batch\">Sequences in the batch.</param>");
            w.Line("/// <param name=\"seqLen\">Time steps per sequence.</param>");
            if (withLengths)
            {
                w.Line("/// <param name=\"lengths\">Each sequence's length, in any order, each in [1, seqLen].</param>");
            }

            w.Line("/// <param name=\"output\">Receives the output values; its length must match exactly.</param>");
            using (w.Block($"public void Forward(global::System.ReadOnlySpan<int> tokens, int batch, int seqLen, {(withLengths ? "global::System.ReadOnlySpan<int> lengths, " : string.Empty)}{Span} output)"))
            {
                w.Line($"{S}.CheckSequenceSizes(batch, seqLen);");
                w.Line($"{S}.CheckTokenLength(tokens.Length, batch, seqLen);");
                w.Line($"{S}.CheckLength(\"output\", output.Length, batch, {(plan.HasLastStep ? "1" : "seqLen")}, OutputSize);");
                w.Line($"{S}.CheckTokens(tokens, batch, seqLen, BatchFirst, NumEmbeddings);");
                if (withLengths)
                {
                    w.Line("global::Deepbox.CompilerServices.SequenceLengths.Check(lengths, batch, seqLen);");
                }

                w.Line($"Run(tokens, batch, seqLen, {(withLengths ? "lengths" : "default")}, default, default, output, default, default, unbatched: false);");
            }

            w.Line();
        }

        w.Line("/// <summary>Why this model refuses float input: the message of <see cref=\"global::Deepbox.IModel\"/>'s float members.</summary>");
        w.Line($"private const string FloatInput = \"{plan.Spec.ClassName} takes token ids: its first layer is an [Embedding]. Call Forward(int[,] tokens) or Forward(ReadOnlySpan<int> tokens, batch, seqLen, output); a float tensor is not cast to ids.\";");
        w.Line();
        w.Line("/// <summary>Refused: this model takes token ids (see <see cref=\"FloatInput\"/>).</summary>");
        w.Line($"{T} global::Deepbox.IModel.Forward({T} input) => throw new global::System.InvalidOperationException(FloatInput);");
        w.Line();
        w.Line("/// <summary>Refused: this model takes token ids (see <see cref=\"FloatInput\"/>).</summary>");
        w.Line($"{T} global::Deepbox.IModel.Forward({T} input, int[] lengths) => throw new global::System.InvalidOperationException(FloatInput);");
        w.Line();
        w.Line("/// <summary>Refused: this model takes token ids (see <see cref=\"FloatInput\"/>).</summary>");
        w.Line($"void global::Deepbox.IModel.Forward({RoSpan} input, int batch, int seqLen, {Span} output) => throw new global::System.InvalidOperationException(FloatInput);");
        w.Line();
        w.Line("/// <summary>Refused: this model takes token ids (see <see cref=\"FloatInput\"/>).</summary>");
        w.Line($"void global::Deepbox.IModel.Forward({RoSpan} input, int batch, int seqLen, global::System.ReadOnlySpan<int> lengths, {Span} output) => throw new global::System.InvalidOperationException(FloatInput);");
        w.Line();
        w.Line($"private static (int Batch, int SeqLen, bool Unbatched) CheckTokens(int[,] tokens) => {S}.CheckTokens(tokens, BatchFirst, NumEmbeddings);");
        w.Line();
        WriteOutputShape(w, plan);
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
        WriteForwardWithState(w, state, withLengths: false, tokens: plan.Embedding is not null);
        WriteForwardWithState(w, state, withLengths: true, tokens: plan.Embedding is not null);
    }

    private static void WriteForwardWithState(SourceWriter w, StagePlan state, bool withLengths, bool tokens)
    {
        LayerSpec l = state.Layer;
        bool lstm = l.Kind == LayerKind.Lstm;
        int states = l.NumLayers * l.Directions;
        string stateShape = $"[{Inv(states)}, B, {Inv(l.HiddenSize)}]";
        w.Line("/// <summary>");
        w.Line("/// Runs the model from given initial states and returns the final ones too, as PyTorch's " + state.CellName + " does.");
        if (withLengths)
        {
            w.Line("/// With lengths (see <c>Forward(Tensor, int[])</c>): each sequence runs its own steps only, and its final states are those");
            w.Line("/// after its own last step (a reverse direction's, after its first).");
        }

        WriteConcurrencyDoc(w);
        w.Line($"/// States are <c>{stateShape}</c> (<c>[num_layers * directions, B, H]</c>; unbatched <c>[{Inv(states)}, {Inv(l.HiddenSize)}]</c>).");
        w.Line("/// </summary>");
        w.Line(tokens ? "/// <param name=\"tokens\">The token ids, <c>[B, T]</c> (<c>[T, B]</c> when not batch-first).</param>" : "/// <param name=\"input\">The input sequence(s).</param>");
        if (withLengths)
        {
            w.Line("/// <param name=\"lengths\">Each sequence's length, in any order, each in [1, T].</param>");
        }

        w.Line("/// <param name=\"h0\">The initial hidden states, or null for zeros.</param>");
        if (lstm)
        {
            w.Line("/// <param name=\"c0\">The initial cell states, or null for zeros.</param>");
        }

        w.Line("/// <returns>The output and the final states.</returns>");
        string ret = lstm ? $"({T} Output, ({T} H, {T} C))" : $"({T} Output, {T} H)";
        string first = tokens ? "int[,] tokens" : $"{T} input";
        string input = withLengths ? $"{first}, int[] lengths" : first;
        string args = lstm ? $"{input}, {T}? h0 = null, {T}? c0 = null" : $"{input}, {T}? h0 = null";
        string lengths = withLengths ? "lengths" : "default";
        using (w.Block($"public {ret} ForwardWithState({args})"))
        {
            if (withLengths)
            {
                w.Line("global::System.ArgumentNullException.ThrowIfNull(lengths);");
            }

            w.Line(tokens ? "(int batch, int seqLen, bool unbatched) = CheckTokens(tokens);" : "(int batch, int seqLen, bool unbatched) = CheckInput(input);");
            if (withLengths)
            {
                w.Line("global::Deepbox.CompilerServices.SequenceLengths.Check(lengths, batch, seqLen);");
            }

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
                w.Line($"Run({(tokens ? $"{S}.AsSpan(tokens)" : "input.AsSpan()")}, batch, seqLen, {lengths}, h0 is null ? default : h0.AsSpan(), c0 is null ? default : c0.AsSpan(), output.AsSpan(), h.AsSpan(), c.AsSpan(), unbatched);");
                w.Line("return (output, (h, c));");
            }
            else
            {
                w.Line($"Run({(tokens ? $"{S}.AsSpan(tokens)" : "input.AsSpan()")}, batch, seqLen, {lengths}, h0 is null ? default : h0.AsSpan(), default, output.AsSpan(), h.AsSpan(), default, unbatched);");
                w.Line("return (output, h);");
            }
        }

        w.Line();
    }

    private static void WriteRun(SourceWriter w, ModelPlan plan)
    {
        w.Lines($$"""
            /// <summary>
            /// The pass; every argument has been checked. Empty states mean zeros / not wanted. In evaluation mode it runs on a
            /// workspace of its own and on weights no one repacks meanwhile, so any number of callers may run it at once; in
            /// training mode on the training workspace, which keeps what Backward needs, one caller at a time.
            /// </summary>
            private void Run({{InputSpan(plan)}} input, int batch, int seqLen, global::System.ReadOnlySpan<int> lengths, {{RoSpan}} h0, {{RoSpan}} c0, {{Span}} output, {{Span}} hN, {{Span}} cN, bool unbatched)
            {
                // The mode is read again once a training pass holds the gate: a concurrent Eval() may have switched it.
                if (!_exec.TryEnterTrainingPass(out var training))
                {
                    using var pass = _exec.BeginEvaluation();
                    pass.Workspace.Forward(pass.Weights, training: false, _exec.Threads, input, batch, seqLen, lengths, h0, c0, output, hN, cN);
                    return;
                }

                using (training)
                {
                    training.Workspace.Forward(_exec.BeginTrainingForward(), training: true, _exec.Threads, input, batch, seqLen, lengths, h0, c0, output, hN, cN);
                    _exec.EndTrainingForward(batch, seqLen, unbatched); // everything Backward reads stays in the training workspace
                }
            }
            """);
    }

    /// <summary>The workspace's forward pass: the stages in order, each recurrent one split across threads by sequences.</summary>
    private static void WriteWorkspaceRun(SourceWriter w, ModelPlan plan)
    {
        string k = KernelClass(plan);
        w.Line("/// <summary>Runs the model on <paramref name=\"weights\"/>; the activations stay here (for Backward, in training).</summary>");
        using (w.Block($"public void Forward(Weights weights, bool training, int threads, {InputSpan(plan)} input, int batch, int seqLen, global::System.ReadOnlySpan<int> lengths, {RoSpan} h0, {RoSpan} c0, {Span} output, {Span} hN, {Span} cN)"))
        {
            w.Line("W = weights;");
            w.Line("_training = training;");
            if (HasJobs(plan))
            {
                w.Line("_threads = threads;");
            }

            w.Line("_lengths.Set(lengths, batch, seqLen);");
            if (HasTrainingSubBatches(plan))
            {
                w.Line("_subParts = 0;");
            }

            if (HasSubBatches(plan))
            {
                w.Line(HasTrainingSubBatches(plan)
                    ? "// Without lengths, on several threads: each thread takes whole sequences through every stage, in a workspace of its own"
                    : "// In evaluation, without lengths, on several threads: each thread takes whole sequences through every stage, in a");
                w.Line(HasTrainingSubBatches(plan)
                    ? "// (ForwardSubBatches; in training, Backward then runs in the same sub-batches)."
                    : "// workspace of its own (ForwardSubBatches; not in training: the dropout masks are drawn for the whole batch).");
                using (w.Block(HasTrainingSubBatches(plan) ? "if (!_lengths.IsRagged)" : "if (!training && !_lengths.IsRagged)"))
                {
                    w.Line($"int parts = global::Deepbox.CompilerServices.Workers.Parts(threads, batch, (long)batch * seqLen * {Inv(PassWork(plan))});");
                    using (w.Block("if (parts > 1)"))
                    {
                        w.Line("ForwardSubBatches(parts, input, batch, seqLen, h0, c0, output, hN, cN);");
                        w.Line("return;");
                    }
                }

                w.Line();
            }

            w.Line("EnsureWorkspace(batch, seqLen);");
            if (plan.Embedding is { } e)
            {
                w.Line($"// ({(e.Layer.Name ?? "0")}) {e.Describe()}: each token's vector from the table, as rows (packed by lengths, longest first, with lengths).");
                w.Line($"{S}.Ensure(ref _tokens, _lengths.Rows);");
                w.Line($"_lengths.Embed(input, BatchFirst, {SnapshotSlices(plan, e, "W.Snapshot")["weight"]}, EmbeddingDim, _x, _tokens);");
            }
            else
            {
                w.Line("if (_lengths.IsRagged) _lengths.ToRows(input, InputSize, BatchFirst, _x); // packed by lengths, longest first");
                w.Line($"else {S}.ToTimeMajor(input, InputSize, batch, seqLen, BatchFirst, _x);");
            }

            w.Line("Compute(batch, seqLen, h0, c0, hN, cN);");
            WriteOutputCopy(w, plan);
        }

        w.Line();
        w.Line("/// <summary>The stages in order, on the rows the input was copied into; the output is left in the last stage's rows.</summary>");
        using (w.Block($"private void Compute(int batch, int seqLen, {RoSpan} h0, {RoSpan} c0, {Span} hN, {Span} cN)"))
        {
            StagePlan? first = plan.FirstRecurrent;
            foreach (StagePlan s in plan.Stages)
            {
                w.Line($"// ({(s.Layer.Name ?? Inv(s.Index))}) {s.Describe()}");
                switch (s.Layer.Kind)
                {
                    case LayerKind.Embedding:
                        w.Line("// Looked up above, into _x.");
                        break;
                    case LayerKind.LastStep:
                        w.Line("// Later stages read the rows of the last time step only; with lengths, each sequence's own last step, gathered.");
                        w.Line($"if (_lengths.IsRagged) _lengths.GatherLast({s.Input.Buffer}, {Inv(s.Input.RowStride)}, _last);");
                        break;
                    case LayerKind.Linear:
                        w.Line($"{k}.{DenseName(s.Input, s.Padded, s.Layer.Activation)}({Slice(s.Input)}, {Inv(s.Input.RowStride)}, W._w{s.Index}, W._b{s.Index}, _y{s.Index}, {(s.Input.Collapsed ? "batch" : "_lengths.Rows")});");
                        break;
                    default:
                        w.Line(s == first
                            ? $"Stage{s.Index}(batch, seqLen, h0, c0, hN, cN);"
                            : $"Stage{s.Index}(batch, seqLen, default, default, default, default);");
                        break;
                }
            }

        }

        w.Line();
        WriteSubBatches(w, plan);
        foreach (StagePlan s in plan.Stages.Where(s => s.Layer.IsRecurrent))
        {
            WriteRecurrentStage(w, plan, s);
        }

        WriteEnsureWorkspace(w, plan);
        WriteJobs(w, plan);
    }

    /// <summary>The copy of the last stage's rows into the caller's output.</summary>
    private static void WriteOutputCopy(SourceWriter w, ModelPlan plan)
    {
        RowSource o = plan.Output;
        w.Line("// The output in the caller's layout (with lengths, zeros past each sequence's length).");
        w.Line($"if (_lengths.IsRagged) _lengths.FromRows({Slice(o)}, {Inv(o.RowStride)}, {Inv(o.SegmentWidth)}, {Inv(o.SegmentStride)}, {Inv(o.Segments)}, BatchFirst, output, collapsed: {(o.Collapsed ? "true" : "false")});");
        w.Line($"else {S}.FromTimeMajor({Slice(o)}, {Inv(o.RowStride)}, {Inv(o.SegmentWidth)}, {Inv(o.SegmentStride)}, {Inv(o.Segments)}, batch, {(o.Collapsed ? "1" : "seqLen")}, BatchFirst, output);");
    }

    /// <summary>Whether evaluation passes split into sub-batches (<see cref="WriteSubBatches"/>): models with a recurrent layer and float input.</summary>
    private static bool HasSubBatches(ModelPlan plan) => HasJobs(plan) && plan.Embedding is null;

    /// <summary>
    /// Whether training passes split into sub-batches too (their Backward in the same ones): unless a layer has dropout,
    /// whose masks are drawn for the whole batch in its order of rows.
    /// </summary>
    private static bool HasTrainingSubBatches(ModelPlan plan) => HasSubBatches(plan) && !plan.Stages.Any(s => HasDropout(s.Layer));

    /// <summary>The job number of a sub-batch's whole pass in <c>RunPart</c>.</summary>
    private const string SubBatchJob = "-1";

    /// <summary>The floating-point operations of the recurrent layers per sequence and step (each job's <c>rowWork</c>).</summary>
    private static long PassWork(ModelPlan plan) =>
        JobSites(plan).Sum(j => 2L * j.Stage.Layer.Gates * j.Stage.Padded * (j.Stage.LayerInput(j.Layer).PackedRows + j.Stage.Padded));

    /// <summary>
    /// A pass in sub-batches: the caller gives each sub-batch its sequences and initial states, the threads take the
    /// sub-batches one after another, each copying its sequences' input rows in, running every stage on them as a
    /// one-thread pass and copying its output rows out, and the caller copies their final states back.
    /// </summary>
    private static void WriteSubBatches(SourceWriter w, ModelPlan plan)
    {
        if (!HasSubBatches(plan))
        {
            return;
        }

        StagePlan first = plan.FirstRecurrent!;
        RowSource o = plan.Output;
        string sub = "global::Deepbox.CompilerServices.SubBatch";
        string workers = "global::Deepbox.CompilerServices.Workers";
        bool training = HasTrainingSubBatches(plan);
        string trainingArg = training ? "_training, " : string.Empty;
        string trainingParam = training ? "bool training, " : string.Empty;
        string trainingValue = training ? "training" : "false";
        string run = training
            ? "// In training, each sub-batch's Backward then runs on the core that has its activations in cache (RunPlaced).\n    _callerSpans.Run(apart ? input : default, apart ? output : default, this, parts, last: !_training, _training ? _subPlacement : null);"
            : "_callerSpans.Run(apart ? input : default, apart ? output : default, this, parts, last: true, placement: null);";
        string placement = training
            ? $"\n    {sub}.EnsurePlacement(ref _subPlacement, parts);\n    if (_training) EnsureBackwardWeights(); // the first thread done packs the transposed weights into them\n    _packClaim = _training ? 0 : 1;"
            : string.Empty;
        string remember = training ? "\n    _subParts = parts; // where Backward finds the activations" : string.Empty;
        string intro = training
            ? "/// A pass on <paramref name=\"parts\"/> threads, in sub-batches of whole sequences, each run through every stage\n" +
              "/// as a one-thread pass in a workspace of its own (in training, Backward runs in the same sub-batches). Threads that\n" +
              "/// split each layer's sequences write rows of the same"
            : "/// An evaluation pass on <paramref name=\"parts\"/> threads, in sub-batches of whole sequences, each run through every stage\n" +
              "/// as a one-thread pass in a workspace of its own. Threads that split each layer's sequences write rows of the same";
        w.Lines($$"""
            /// <summary>
            {{intro}}
            /// buffers side by side, and their cores pass those cache lines back and forth: W1 (LSTM(16, 64), B = 32, T = 64) took
            /// 0.54 ms on 2 threads that way against 0.39 ms in sub-batches (one thread: 0.60 ms), on an AMD EPYC family 26 model 2
            /// (Zen 5, FMA peak 211-229 GFLOP/s). A sequence's numbers do not depend on its batch: the same bits.
            /// Each thread copies its own sequences' input rows in and output rows out (the caller's spans pinned for the region:
            /// CallerSpans), rather than the caller copying every sub-batch's before and after the region while the other threads
            /// wait: W1 and W2 on 2 threads 3-4% faster (medians of 6-8 alternated runs on an AMD EPYC family 26 model 2, Zen 5,
            /// FMA peak 209-225 GFLOP/s). When the output overlaps the input, the caller still copies them all, so that no thread
            /// overwrites rows another has yet to read.
            /// </summary>
            private void ForwardSubBatches(int parts, {{RoSpan}} input, int batch, int seqLen, {{RoSpan}} h0, {{RoSpan}} c0, {{Span}} output, {{Span}} hN, {{Span}} cN)
            {
                {{workers}}.Wake(parts); // a blocked worker wakes while the caller sets the sub-batches up
                {{sub}}.Ensure(ref _subBatches, parts, _model, static model => new Workspace(model));{{placement}}
                bool apart = !input.Overlaps(output);
                for (int p = 0; p < parts; p++)
                {
                    int first = {{workers}}.Split(batch, p, parts);
                    _subBatches[p].BeginSubBatch(W, {{trainingArg}}batch, seqLen, first, {{workers}}.Split(batch, p + 1, parts) - first, h0, c0, !hN.IsEmpty, !cN.IsEmpty);
                    if (!apart) _subBatches[p].SubBatchIn(input);
                }

                _job = {{SubBatchJob}};
                _subApart = apart;
                {{run}}{{remember}}
                for (int p = 0; p < parts; p++)
                {
                    if (!apart) _subBatches[p].SubBatchOut(output);
                    _subBatches[p].EndSubBatch(hN, cN);
                }
            }

            /// <summary>Takes sequences [first, first + batch) of the caller's <paramref name="callerBatch"/> and their initial states.</summary>
            private void BeginSubBatch(Weights weights, {{trainingParam}}int callerBatch, int seqLen, int first, int batch, {{RoSpan}} h0, {{RoSpan}} c0, bool wantHN, bool wantCN)
            {
                W = weights;
                _training = {{trainingValue}};
                _threads = 1;
                EnsureWorkspace(batch, seqLen);
                _lengths.Set(default, batch, seqLen);
                _sub.Begin(callerBatch, first, batch, seqLen, {{Inv(first.Layer.NumLayers * first.Layer.Directions)}}, {{Inv(first.Layer.HiddenSize)}}, h0, c0, wantHN, wantCN);
            }

            /// <summary>The sub-batch's sequences of the caller's input, as its rows.</summary>
            private void SubBatchIn({{RoSpan}} input) =>
                {{S}}.ToTimeMajor(input, InputSize, _sub.Batch, _sub.SeqLen, BatchFirst, _x, _sub.CallerBatch, _sub.First);

            /// <summary>The sub-batch's pass, on the thread that took it.</summary>
            private void RunSubBatch() => Compute(_sub.Batch, _sub.SeqLen, _sub.H0, _sub.C0, _sub.HN, _sub.CN);

            /// <summary>The sub-batch's output rows into the caller's output.</summary>
            private void SubBatchOut({{Span}} output)
            {
                int batch = _sub.Batch;
                int seqLen = _sub.SeqLen;
                {{S}}.FromTimeMajor({{Slice(o)}}, {{Inv(o.RowStride)}}, {{Inv(o.SegmentWidth)}}, {{Inv(o.SegmentStride)}}, {{Inv(o.Segments)}}, batch, {{(o.Collapsed ? "1" : "seqLen")}}, BatchFirst, output, _sub.CallerBatch, _sub.First);
            }

            /// <summary>The sub-batch's final states into the caller's.</summary>
            private void EndSubBatch({{Span}} hN, {{Span}} cN) => _sub.End(hN, cN);

            """);
    }

    /// <summary>The span a stage reads: the whole buffer, or from the first row of the last time step.</summary>
    private static string Slice(RowSource src) => src.LastStepOnly
        ? $"(_lengths.IsRagged ? _last.AsSpan() : {src.Buffer}.AsSpan((seqLen - 1) * batch * {Inv(src.RowStride)}))"
        : src.Buffer;

    /// <summary>
    /// Floats of input products computed ahead of the recurrence at a time: 256 KB, a quarter of the 1 MB L2 of the cores
    /// measured, so that the recurrence's W_hh (W4's GRU(32, 128): 192 KB) stays there beside them. With 1 MB chunks,
    /// W4 took 2–4% longer on an AMD EPYC family 25 model 17 (Zen 4, FMA peak 117 GFLOP/s; `loop` mode alternated,
    /// docs/benchmarks.md); W1, W2 and W3 measured no difference either way.
    /// </summary>
    private const int StepChunkFloats = 64 * 1024;

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
            w.Line("int rows = _lengths.Rows;");
            w.Line($"int stateRows = {Scaled(states, "batch")};");
            w.Line($"// Initial states: a row of {Inv(hp)} floats per (layer, direction, sequence), zeros unless given (in the pass's order of sequences).");
            w.Line($"_h0_{s.Index}.AsSpan(0, stateRows * {Inv(hp)}).Clear();");
            w.Line($"if (!h0.IsEmpty) _lengths.StatesIn(h0, {Inv(h)}, _h0_{s.Index}, {Inv(hp)}, {Inv(states)});");
            if (lstm)
            {
                w.Line($"_c{s.Index}.AsSpan(0, stateRows * {Inv(hp)}).Clear();");
                w.Line($"if (!c0.IsEmpty) _lengths.StatesIn(c0, {Inv(h)}, _c{s.Index}, {Inv(hp)}, {Inv(states)});");
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
                    // The floating-point operations per sequence and step: a multiply-add per gate sum and input or hidden unit.
                    int n = l.Gates * hp;
                    string rowWork = $"2 * {Inv(n)} * ({Inv(src.PackedRows)} + {Inv(hp)})";
                    bool last = job == JobSites(plan).Count() - 1;
                    w.Line($"// The input products ({k}.{DenseName(src, n, Activation.None, panel: InputPanel(plan, l))}), then the recurrence ({k}.{seqKernel}).");
                    if (last)
                    {
                        w.Line("// The pass's last region; in training, Backward's regions follow it (after the loss), so the workers wait for them.");
                    }

                    w.Line($"Fork({Inv(job)}, batch, seqLen, rowWork: {rowWork}, last: {(last ? "!_training" : "false")}{(SmallWeights(plan, s, layer) ? ", chunks: true" : string.Empty)});");
                }
            }

            w.Line($"// Final states [{Inv(states)}, B, {Inv(h)}]: the forward direction's at each sequence's last step, the reverse direction's at its first.");
            using (w.Block("if (!hN.IsEmpty)"))
            {
                for (int layer = 0; layer < l.NumLayers; layer++)
                {
                    for (int d = 0; d < d2; d++)
                    {
                        w.Line($"_lengths.FinalStates(_seq{s.Index}_{Inv(layer)}.AsSpan({Inv(d * hp)}), {Inv(d2 * hp)}, atLast: {(d == 0 ? "true" : "false")}, hN.Slice({Scaled((layer * d2) + d, "batch * " + Inv(h))}), {Inv(h)});");
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
                            w.Line($"_lengths.FinalStates(_aux{s.Index}.AsSpan({Scaled(index, "rows * " + Inv(hp))}), {Inv(hp)}, atLast: {(d == 0 ? "true" : "false")}, cN.Slice({Scaled(index, "batch * " + Inv(h))}), {Inv(h)});");
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
}
