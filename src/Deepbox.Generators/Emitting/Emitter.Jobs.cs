using System.Collections.Generic;
using System.Linq;

namespace Deepbox.Generators;

/// <summary>The jobs split across threads: each layer and direction's forward pass by sequences (input products then recurrence), and its backward pass (by sequences back through time, then by columns for the weight gradients).</summary>
internal static partial class Emitter
{
    /// <summary>Whether the model has kernel calls split across threads (<see cref="WriteJobs"/>): it has a recurrent layer.</summary>
    private static bool HasJobs(ModelPlan plan) => plan.Stages.Any(s => s.Layer.IsRecurrent);

    /// <summary>Every (stage, layer, direction) of the recurrent layers, in the order of the forward pass.</summary>
    private static IEnumerable<(StagePlan Stage, int Layer, int Direction)> JobSites(ModelPlan plan) =>
        from s in plan.Stages
        where s.Layer.IsRecurrent
        from layer in Enumerable.Range(0, s.Layer.NumLayers)
        from d in Enumerable.Range(0, s.Layer.Directions)
        select (s, layer, d);

    /// <summary>
    /// Whether a layer and direction's sequence-split jobs cut the batch into two parts a thread (<c>Workers.Chunks</c>):
    /// where its weights (W_ih and W_hh, packed) take 128 KB or less. Measured at 2 threads on a
    /// 2-core AMD EPYC family 25 model 17, Zen 4, FMA peak 117 GFLOP/s: W1's LSTM(16, 64)
    /// (80 KB) went from 657-682 µs to 608-612 µs, while W2's LSTM(128, 256) (1.5 MB) went from 37.2 to 43.0 ms and W4's
    /// GRU(32, 128) (240 KB) from 2.69 to 3.05-3.67 ms: a part of fewer rows reads the weights once per fewer rows.
    /// </summary>
    private static bool SmallWeights(ModelPlan plan, StagePlan s, int layer) =>
        (plan.Isa.Pad(s.LayerInput(layer).PackedRows) + s.Padded) * s.Layer.Gates * s.Padded * sizeof(float) <= 128 * 1024;

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
        w.Line("/// <summary>");
        w.Line("/// Runs job <paramref name=\"job\"/> (a layer and direction's forward pass, or one of its two backward jobs) over <paramref name=\"batch\"/> sequences of <paramref name=\"seqLen\"/> steps,");
        w.Line("/// split across <see cref=\"Threads\"/> threads where each gets 4 or more sequences and enough work to pay for itself");
        w.Line("/// (<c>Workers.MinWorkPerThread</c>), else on the caller alone.");
        w.Line("/// </summary>");
        w.Line("/// <param name=\"job\">The job.</param>");
        w.Line("/// <param name=\"batch\">Sequences.</param>");
        w.Line("/// <param name=\"seqLen\">Steps.</param>");
        w.Line("/// <param name=\"rowWork\">The job's floating-point operations per sequence and step.</param>");
        w.Line("/// <param name=\"last\">Whether no job follows in this pass (the workers then go to sleep soon after).</param>");
        w.Line("/// <param name=\"maxParts\">The most parts the job splits into (a weight gradient's blocks of columns).</param>");
        w.Line("/// <param name=\"chunks\">Whether the batch is cut into two parts a thread rather than one (layers with small weights).</param>");
        using (w.Block("private void Fork(int job, int batch, int seqLen, int rowWork, bool last, int maxParts = int.MaxValue, bool chunks = false)"))
        {
            w.Line("_job = job;");
            w.Line("_jobBatch = batch;");
            w.Line("_jobSeqLen = seqLen;");
            w.Line("int threads = global::System.Math.Min(maxParts, global::Deepbox.CompilerServices.Workers.Parts(_threads, batch, (long)batch * seqLen * rowWork));");
            w.Line("// Parts are taken by the threads one after another: a thread that starts late leaves what it has not taken to the others.");
            w.Line("int parts = chunks ? global::System.Math.Min(maxParts, global::Deepbox.CompilerServices.Workers.Chunks(threads, batch)) : threads;");
            w.Line("_jobThreads = threads;");
            w.Line("global::Deepbox.CompilerServices.Workers.Run(this, parts, threads, last);");
        }

        w.Line();
        w.Line("/// <summary>Part <paramref name=\"part\"/> of <paramref name=\"parts\"/> of the current job: its share of the sequences (a weight-gradient job: of the columns).</summary>");
        using (w.Block("void global::Deepbox.CompilerServices.IPartitioned.RunPart(int part, int parts)"))
        {
            if (HasSubBatches(plan))
            {
                using (w.Block($"if (_job == {SubBatchJob})"))
                {
                    w.Line("// A whole pass over one sub-batch (ForwardSubBatches), with its rows of the caller's input and output.");
                    w.Line("Workspace sub = _subBatches[part];");
                    w.Line("if (_subApart) sub.SubBatchIn(_callerSpans.Read);");
                    w.Line("sub.RunSubBatch();");
                    w.Line("if (_subApart) sub.SubBatchOut(_callerSpans.Write);");
                    if (HasTrainingSubBatches(plan))
                    {
                        w.Line("// In training, the first thread done packs the weights Backward reads (PackTransposedWeights), while the others still run.");
                        w.Line("if (global::System.Threading.Interlocked.Exchange(ref _packClaim, 1) == 0) PackTransposedWeights();");
                    }

                    w.Line("return;");
                }

                w.Line();
                if (HasTrainingSubBatches(plan))
                {
                    using (w.Block($"if (_job == {SubBatchBackwardJob})"))
                    {
                        w.Line("// A whole backward pass over one sub-batch (BackwardSubBatches), with its rows of the output's and the input's gradients.");
                        w.Line("Workspace sub = _subBatches[part];");
                        w.Line("// Then its rows of every layer's weight gradients, each block in turn after the sub-batch before (WeightGradPipeline).");
                        using (w.Block("try"))
                        {
                            w.Line("if (_subApart) sub.BackwardSubBatchIn(_callerSpans.Read);");
                            w.Line("sub.RunBackwardSubBatch();");
                            w.Line("if (_subApart) sub.BackwardSubBatchOut(_callerSpans.Write);");
                            foreach ((StagePlan s, int layer, int d) in WeightGradSites(plan))
                            {
                                w.Line($"WeightGradPipeline{s.Index}_{Tag(layer, d)}(part, parts);");
                            }
                        }

                        using (w.Block("finally"))
                        {
                            w.Line("_pipeline.Finish(part); // done, or failed: the next sub-batch's thread waits for it no longer");
                        }

                        w.Line();
                        w.Line("return;");
                    }

                    w.Line();
                }
            }

            w.Line("int batch = _jobBatch;");
            w.Line("int seqLen = _jobSeqLen;");
            w.Line("int rows = _lengths.Rows;");
            w.Line("// The part's sequences [b0, b1): equal shares of the batch (with lengths, sorted longest first: of its rows or of its steps).");
            w.Line("int b0 = _lengths.Split(part, parts, _jobThreads);");
            w.Line("int b1 = _lengths.Split(part + 1, parts, _jobThreads);");
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
                    string dense = $"{k}.{DenseName(src, n, Activation.None, panel: InputPanel(plan, l))}";
                    string weights = $"W._w{s.Index}_{tag}_ih, W._b{s.Index}_{tag}";
                    // Training keeps every layer's and direction's gates for Backward; evaluation reuses the first slot.
                    string gxAt = index == 0 ? "0" : $"_training ? {Scaled(index, "rows * " + Inv(n))} : 0";
                    string stateOffset = $"{Scaled(index, "batch * " + Inv(hp))}";
                    string extra = l.Kind switch
                    {
                        LayerKind.Gru => $"W._bhn{s.Index}_{tag}, _h0_{s.Index}.AsSpan({stateOffset}), _aux{s.Index}.AsSpan({Scaled(index, "rows * " + Inv(hp))}), ",
                        LayerKind.Lstm => $"_h0_{s.Index}.AsSpan({stateOffset}), _c{s.Index}.AsSpan({stateOffset}), _aux{s.Index}.AsSpan({Scaled(index, "rows * " + Inv(hp))}), ",
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
                            w.Line("// are then contiguous), else one per time step, for the sequences that have it.");
                            using (w.Block("if (b1 - b0 == batch)"))
                            {
                                w.Line("int r0 = _lengths.Row(t0);");
                                w.Line($"{dense}(_jobInput.AsSpan(r0 * {stride}), {stride}, {weights}, _gx{s.Index}.AsSpan(gx + (r0 * {Inv(n)})), _lengths.Row(t1) - r0);");
                            }

                            using (w.Block("else"))
                            {
                                using (w.Block("for (int t = t0; t < t1; t++)"))
                                {
                                    w.Line("int row = _lengths.Row(t) + b0;");
                                    w.Line("int count = _lengths.End(t, b0, b1) - b0;");
                                    w.Line($"if (count > 0) {dense}(_jobInput.AsSpan(row * {stride}), {stride}, {weights}, _gx{s.Index}.AsSpan(gx + (row * {Inv(n)})), count);");
                                }
                            }

                            w.Line();
                            w.Line($"{k}.{SequenceName(l, l.HiddenSize)}(_gx{s.Index}.AsSpan(gx), W._w{s.Index}_{tag}_hh, {extra}_seq{s.Index}_{Inv(layer)}.AsSpan({Inv(d * hp)}), {Inv(d2 * hp)}, batch, seqLen, reverse: {(d == 1 ? "true" : "false")}, s0, s1, b0, b1, _lengths.Steps);");
                        }

                        w.Line("break;");
                    }

                    job++;
                }

                WriteBackwardJobCases(w, plan);
            }
        }
    }
}
