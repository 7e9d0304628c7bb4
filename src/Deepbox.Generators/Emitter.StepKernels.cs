namespace Deepbox.Generators;

/// <summary>
/// The streaming kernels: one time step of one sequence with the input product and the recurrent product in one
/// pass (no buffer of input products), the gates fused, the state updated in place. The sums run in the same order
/// as the sequence kernels', so a step gives exactly what <c>Forward</c> gives at that step.
/// </summary>
internal static partial class Emitter
{
    private static string StepName(LayerSpec l, RowSource src) => l.Kind switch
    {
        LayerKind.Lstm => "LstmStep_",
        LayerKind.Gru => "GruStep_",
        _ => l.Relu ? "RnnReluStep_" : "RnnTanhStep_",
    } + src.Key + "_H" + Inv(l.HiddenSize);

    private static void WriteStepKernel(SourceWriter w, VectorIsa isa, LayerSpec l, RowSource src, int hp)
    {
        int v = isa.Width;
        int h = l.HiddenSize;
        int g = l.Gates;
        int n = g * hp;
        bool lstm = l.Kind == LayerKind.Lstm;
        bool gru = l.Kind == LayerKind.Gru;
        bool oneBlock = hp == v;
        string[] acc = l.Kind switch
        {
            LayerKind.Lstm => ["ai", "af", "ag", "ao"],
            LayerKind.Gru => ["ar", "az", "anx", "anh"],
            _ => ["a"],
        };
        string ro = "global::System.ReadOnlySpan<float>";
        string rw = "global::System.Span<float>";
        w.Line("/// <summary>");
        w.Line($"/// One step of {(lstm ? "the LSTM" : gru ? "the GRU" : "the RNN")} for one sequence: the {Inv(src.Width)} inputs and the {Inv(h)} hidden units of the previous step");
        w.Line($"/// in one pass over W_ih and W_hh ({Inv(g)} gate{(g == 1 ? string.Empty : "s")} per block of {Inv(v)} units), then the cell's update of h{(lstm ? " and c" : string.Empty)} in place.");
        w.Line(oneBlock
            ? "/// One block: every read of h comes before the write, so h is updated directly."
            : "/// The new h goes to scratch first (later blocks still read the old h), then over h.");
        w.Line("/// </summary>");
        w.Line("[MethodImpl(MethodImplOptions.AggressiveOptimization)]");
        string args = $"{ro} x, {ro} wih, {ro} whh, {ro} bias, " + (gru ? $"{ro} bhn, " : string.Empty) + $"{rw} h, " + (lstm ? $"{rw} c, " : string.Empty) + $"{rw} scratch";
        using (w.Block($"public static void {StepName(l, src)}({args})"))
        {
            w.Line("ref float x0 = ref MemoryMarshal.GetReference(x);");
            w.Line("ref float wih0 = ref MemoryMarshal.GetReference(wih);");
            w.Line("ref float whh0 = ref MemoryMarshal.GetReference(whh);");
            w.Line("ref float b0 = ref MemoryMarshal.GetReference(bias);");
            if (gru)
            {
                w.Line("ref float bhn0 = ref MemoryMarshal.GetReference(bhn);");
            }

            w.Line("ref float h0 = ref MemoryMarshal.GetReference(h);");
            if (lstm)
            {
                w.Line("ref float c0 = ref MemoryMarshal.GetReference(c);");
            }

            w.Line($"ref float out0 = ref MemoryMarshal.GetReference({(oneBlock ? "h" : "scratch")});");
            using (w.Block($"for (int j = 0; j < {Inv(hp)}; j += {Inv(v)})"))
            {
                w.Line(g == 1 ? "int col = j;" : $"int col = j * {Inv(g)};");
                for (int i = 0; i < acc.Length; i++)
                {
                    string init = gru && i == 3 ? "V.LoadUnsafe(ref bhn0, (nuint)j)" : $"V.LoadUnsafe(ref b0, {(i == 0 ? "(nuint)col" : $"(nuint)(col + {Inv(i * v)})")})";
                    w.Line($"Vec {acc[i]} = {init};");
                }

                // The input part (GRU: n's input part kept apart from its hidden part).
                string[] xAcc = gru ? ["ar", "az", "anx"] : acc;
                int kx = src.PackedRows;
                w.Line($"ref float wxp = ref {PanelStart("wih0", "col", kx)};");
                for (int s = 0; s < src.Segments; s++)
                {
                    int from = s * src.SegmentStride;
                    using (w.Block($"for (int k = {Inv(from)}; k < {Inv(from + src.SegmentWidth)}; k++)"))
                    {
                        w.Line("Vec xk = V.Create(Unsafe.Add(ref x0, k));");
                        w.Line($"ref float wk = ref Unsafe.Add(ref wxp, k * {Inv(v)});");
                        for (int i = 0; i < xAcc.Length; i++)
                        {
                            w.Line($"{xAcc[i]} = V.FusedMultiplyAdd(V.LoadUnsafe(ref wk{(i == 0 ? string.Empty : ", " + Inv(i * kx * v))}), xk, {xAcc[i]});");
                        }
                    }
                }

                string[] hAcc = gru ? ["ar", "az", "anh"] : acc;
                w.Line($"ref float whp = ref {PanelStart("whh0", "col", h)};");
                using (w.Block($"for (int k = 0; k < {Inv(h)}; k++)"))
                {
                    w.Line("Vec hk = V.Create(Unsafe.Add(ref h0, k));");
                    w.Line($"ref float wk = ref Unsafe.Add(ref whp, k * {Inv(v)});");
                    for (int i = 0; i < hAcc.Length; i++)
                    {
                        w.Line($"{hAcc[i]} = V.FusedMultiplyAdd(V.LoadUnsafe(ref wk{(i == 0 ? string.Empty : ", " + Inv(i * h * v))}), hk, {hAcc[i]});");
                    }
                }

                switch (l.Kind)
                {
                    case LayerKind.Lstm:
                        w.Line("Vec cNext = Flush(V.FusedMultiplyAdd(Act.Sigmoid(af), V.LoadUnsafe(ref c0, (nuint)j), Act.Sigmoid(ai) * Act.Tanh(ag)));");
                        w.Line("V.StoreUnsafe(cNext, ref c0, (nuint)j);");
                        w.Line("V.StoreUnsafe(Flush(Act.Sigmoid(ao) * Act.Tanh(cNext)), ref out0, (nuint)j);");
                        break;
                    case LayerKind.Gru:
                        w.Line("Vec r = Act.Sigmoid(ar);");
                        w.Line("Vec z = Act.Sigmoid(az);");
                        w.Line("Vec n = Act.Tanh(V.FusedMultiplyAdd(r, anh, anx));");
                        w.Line("V.StoreUnsafe(Flush(V.FusedMultiplyAdd(z, V.LoadUnsafe(ref h0, (nuint)j) - n, n)), ref out0, (nuint)j);");
                        break;
                    default:
                        w.Line($"V.StoreUnsafe(Flush({(l.Relu ? "V.Max(a, Vec.Zero)" : "Act.Tanh(a)")}), ref out0, (nuint)j);");
                        break;
                }
            }

            if (!oneBlock)
            {
                w.Line($"scratch.Slice(0, {Inv(hp)}).CopyTo(h);");
            }
        }
    }
}
