using System.Collections.Generic;
using System.Linq;

namespace Deepbox.Generators;

/// <summary>The backward pass's public entry points and their checks (the pass itself: Emitter.Backward.cs).</summary>
internal static partial class Emitter
{
    /// <summary>The saved pass's weights and sizes, as the training workspace's Backward takes them.</summary>
    private const string Saved = "_exec.SavedWeights, _exec.SavedBatch, _exec.SavedSeqLen";

    /// <summary>
    /// A Backward's body inside the training gate: its checks read the saved pass, which no other training-mode call may
    /// replace until the pass is done (one training-mode call at a time; an overlapping one throws).
    /// </summary>
    private static void Gated(SourceWriter w, System.Action body)
    {
        w.Line("using var training = _exec.EnterTrainingPass(); // the checks read the saved pass: no other training call replaces it meanwhile");
        body();
    }

    /// <summary>The workspace's Backward call, then the saved pass marked spent (a second Backward is refused, as in PyTorch).</summary>
    private static void BackwardCall(SourceWriter w, string arguments)
    {
        w.Line($"training.Workspace.Backward(_exec.Threads, {Saved}, {arguments});");
        w.Line("_exec.EndBackward();");
    }

    private static void WriteBackwardApi(SourceWriter w, ModelPlan plan)
    {
        string outShape = OutputShapeText(plan);
        w.Line("/// <summary>");
        w.Line("/// Back-propagates through the last training-mode <c>Forward</c>: adds each parameter's gradient into its");
        w.Line("/// <c>Grad</c> and returns the gradient of the input. Initial states were zero, or as given to <c>ForwardWithState</c>.");
        w.Line("/// </summary>");
        w.Line($"/// <param name=\"gradOutput\">The gradient of the loss with respect to the output, <c>{outShape}</c> as the output was.</param>");
        w.Line(plan.Embedding is null
            ? "/// <returns>The gradient with respect to the input, shaped as the input.</returns>"
            : "/// <returns>The gradient with respect to the looked-up vectors, <c>[B, T, EmbeddingDim]</c> (token ids have none; the table's goes into its <c>Grad</c>).</returns>");
        w.Line("/// <exception cref=\"global::System.InvalidOperationException\">No training-mode forward pass to go back through.</exception>");
        w.Line("/// <exception cref=\"global::System.ArgumentException\">The gradient's shape is not the output's.</exception>");
        using (w.Block($"public {T} Backward({T} gradOutput)"))
        {
            Gated(w, () =>
            {
                w.Line($"{S}.CheckGradient(gradOutput, _exec.IsTraining, _exec.Saved, OutputShape(_exec.SavedBatch, _exec.SavedSeqLen, _exec.SavedUnbatched));");
                w.Line($"{T} gradInput = {T}.Zeros(InputShape(_exec.SavedBatch, _exec.SavedSeqLen, _exec.SavedUnbatched));");
                BackwardCall(w, "gradOutput.AsSpan(), default, default, gradInput.AsSpan(), default, default");
                w.Line("return gradInput;");
            });
        }

        w.Line();
        StagePlan? state = plan.StateStage;
        if (state is not null)
        {
            LayerSpec l = state.Layer;
            bool lstm = l.Kind == LayerKind.Lstm;
            int states = l.NumLayers * l.Directions;
            w.Line("/// <summary>");
            w.Line("/// <c>Backward</c> with the final states in the loss too: takes the gradients of the final states that");
            w.Line("/// <c>ForwardWithState</c> returned and gives the gradients of the initial states as well.");
            w.Line("/// </summary>");
            w.Line($"/// <param name=\"gradOutput\">The gradient with respect to the output, <c>{outShape}</c>.</param>");
            w.Line($"/// <param name=\"gradH\">The gradient with respect to the final hidden states <c>[{Inv(states)}, B, {Inv(l.HiddenSize)}]</c>, or null for zeros.</param>");
            if (lstm)
            {
                w.Line($"/// <param name=\"gradC\">The gradient with respect to the final cell states, or null for zeros.</param>");
            }

            w.Line("/// <returns>The gradients with respect to the input and the initial states.</returns>");
            string ret = lstm ? $"({T} Input, ({T} H0, {T} C0))" : $"({T} Input, {T} H0)";
            string args = lstm ? $"{T} gradOutput, {T}? gradH = null, {T}? gradC = null" : $"{T} gradOutput, {T}? gradH = null";
            using (w.Block($"public {ret} BackwardWithState({args})"))
            {
                Gated(w, () =>
                {
                    w.Line($"{S}.CheckGradient(gradOutput, _exec.IsTraining, _exec.Saved, OutputShape(_exec.SavedBatch, _exec.SavedSeqLen, _exec.SavedUnbatched));");
                    w.Line($"int[] stateShape = _exec.SavedUnbatched ? [{Inv(states)}, {Inv(l.HiddenSize)}] : [{Inv(states)}, _exec.SavedBatch, {Inv(l.HiddenSize)}];");
                    w.Line($"{S}.CheckState(\"gradH\", gradH, stateShape);");
                    if (lstm)
                    {
                        w.Line($"{S}.CheckState(\"gradC\", gradC, stateShape);");
                    }

                    w.Line($"{T} gradInput = {T}.Zeros(InputShape(_exec.SavedBatch, _exec.SavedSeqLen, _exec.SavedUnbatched));");
                    w.Line($"{T} gradH0 = {T}.Zeros(stateShape);");
                    if (lstm)
                    {
                        w.Line($"{T} gradC0 = {T}.Zeros(stateShape);");
                        BackwardCall(w, "gradOutput.AsSpan(), gradH is null ? default : gradH.AsSpan(), gradC is null ? default : gradC.AsSpan(), gradInput.AsSpan(), gradH0.AsSpan(), gradC0.AsSpan()");
                        w.Line("return (gradInput, (gradH0, gradC0));");
                    }
                    else
                    {
                        BackwardCall(w, "gradOutput.AsSpan(), gradH is null ? default : gradH.AsSpan(), default, gradInput.AsSpan(), gradH0.AsSpan(), default");
                        w.Line("return (gradInput, gradH0);");
                    }
                });
            }

            w.Line();
        }

        w.Line("/// <summary>");
        w.Line("/// <c>Backward</c> on caller-owned memory, after the span <c>Forward</c> in training mode: allocates nothing once");
        w.Line("/// the workspace has grown to the batch and length.");
        w.Line("/// </summary>");
        w.Line("/// <param name=\"gradOutput\">The gradient with respect to the output, laid out as the output was.</param>");
        w.Line("/// <param name=\"gradInput\">Receives the gradient with respect to the input, or empty to skip it.</param>");
        using (w.Block($"public void Backward({RoSpan} gradOutput, {Span} gradInput)"))
        {
            Gated(w, () =>
            {
                w.Line($"{S}.CheckBackward(_exec.IsTraining, _exec.Saved);");
                w.Line($"{S}.CheckLength(\"gradOutput\", gradOutput.Length, _exec.SavedBatch, {(plan.HasLastStep ? "1" : "_exec.SavedSeqLen")}, OutputSize);");
                using (w.Block("if (!gradInput.IsEmpty)"))
                {
                    w.Line($"{S}.CheckLength(\"gradInput\", gradInput.Length, _exec.SavedBatch, _exec.SavedSeqLen, {InputWidth(plan)});");
                }

                w.Line();
                BackwardCall(w, "gradOutput, default, default, gradInput, default, default");
            });
        }

        w.Line();
        using (w.Block("private static int[] InputShape(int batch, int seqLen, bool unbatched)"))
        {
            w.Line($"return unbatched ? [seqLen, {InputWidth(plan)}] : [{(plan.Spec.BatchFirst ? "batch, seqLen" : "seqLen, batch")}, {InputWidth(plan)}];");
        }

        w.Line();
    }
}
