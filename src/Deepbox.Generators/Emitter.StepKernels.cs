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
            int blocks = hp / v;
            int pairs = blocks / 2;
            if (pairs > 0)
            {
                w.Line("// Two blocks at a time: twice the independent chains of FMAs in flight (one block's alone wait on FMA latency).");
                using (w.Block($"for (int j = 0; j < {Inv(pairs * 2 * v)}; j += {Inv(2 * v)})"))
                {
                    WriteStepBlocks(w, l, src, hp, v, 2);
                }
            }

            if (blocks % 2 == 1)
            {
                using (w.Block(pairs == 0 ? $"// The one block, 0 to {Inv(hp)}." : $"// The last block, {Inv(pairs * 2 * v)} to {Inv(hp)}."))
                {
                    w.Line($"const int j = {Inv(pairs * 2 * v)};");
                    WriteStepBlocks(w, l, src, hp, v, 1);
                }
            }

            if (!oneBlock)
            {
                w.Line($"scratch.Slice(0, {Inv(hp)}).CopyTo(h);");
            }
        }
    }

    /// <summary>
    /// The body of the step kernel for <paramref name="count"/> adjacent blocks of hidden units from <c>j</c>: the input
    /// products, the recurrent products and the cell update, each block's sums in its own named accumulators.
    /// </summary>
    private static void WriteStepBlocks(SourceWriter w, LayerSpec l, RowSource src, int hp, int v, int count)
    {
        int h = l.HiddenSize;
        int g = l.Gates;
        bool gru = l.Kind == LayerKind.Gru;
        string[] acc = l.Kind switch
        {
            LayerKind.Lstm => ["ai", "af", "ag", "ao"],
            LayerKind.Gru => ["ar", "az", "anx", "anh"],
            _ => ["a"],
        };
        string jAt(int u) => u == 0 ? "j" : $"(j + {Inv(u * v)})";
        for (int u = 0; u < count; u++)
        {
            w.Line(g == 1 ? $"int col{u} = {jAt(u)};" : $"int col{u} = {jAt(u)} * {Inv(g)};");
        }

        for (int u = 0; u < count; u++)
        {
            for (int i = 0; i < acc.Length; i++)
            {
                string init = gru && i == 3 ? $"V.LoadUnsafe(ref bhn0, (nuint){jAt(u)})" : $"V.LoadUnsafe(ref b0, {(i == 0 ? $"(nuint)col{u}" : $"(nuint)(col{u} + {Inv(i * v)})")})";
                w.Line($"Vec {acc[i]}{u} = {init};");
            }
        }

        // The input part (GRU: n's input part kept apart from its hidden part).
        string[] xAcc = gru ? ["ar", "az", "anx"] : acc;
        int kx = src.PackedRows;
        for (int u = 0; u < count; u++)
        {
            w.Line($"ref float wxp{u} = ref {PanelStart("wih0", "col" + Inv(u), kx)};");
        }

        for (int s = 0; s < src.Segments; s++)
        {
            int from = s * src.SegmentStride;
            using (w.Block($"for (int k = {Inv(from)}; k < {Inv(from + src.SegmentWidth)}; k++)"))
            {
                w.Line("Vec xk = V.Create(Unsafe.Add(ref x0, k));");
                for (int u = 0; u < count; u++)
                {
                    w.Line($"ref float wk{u} = ref Unsafe.Add(ref wxp{u}, k * {Inv(g * v)});");
                    for (int i = 0; i < xAcc.Length; i++)
                    {
                        w.Line($"{xAcc[i]}{u} = V.FusedMultiplyAdd(V.LoadUnsafe(ref wk{u}{(i == 0 ? string.Empty : ", " + Inv(i * v))}), xk, {xAcc[i]}{u});");
                    }
                }
            }
        }

        string[] hAcc = gru ? ["ar", "az", "anh"] : acc;
        for (int u = 0; u < count; u++)
        {
            w.Line($"ref float whp{u} = ref {PanelStart("whh0", "col" + Inv(u), h)};");
        }

        using (w.Block($"for (int k = 0; k < {Inv(h)}; k++)"))
        {
            w.Line("Vec hk = V.Create(Unsafe.Add(ref h0, k));");
            for (int u = 0; u < count; u++)
            {
                w.Line($"ref float wk{u} = ref Unsafe.Add(ref whp{u}, k * {Inv(g * v)});");
                for (int i = 0; i < hAcc.Length; i++)
                {
                    w.Line($"{hAcc[i]}{u} = V.FusedMultiplyAdd(V.LoadUnsafe(ref wk{u}{(i == 0 ? string.Empty : ", " + Inv(i * v))}), hk, {hAcc[i]}{u});");
                }
            }
        }

        for (int u = 0; u < count; u++)
        {
            string j = $"(nuint){jAt(u)}";
            switch (l.Kind)
            {
                case LayerKind.Lstm:
                    w.Line($"Vec cNext{u} = Flush(V.FusedMultiplyAdd(Act.Sigmoid(af{u}), V.LoadUnsafe(ref c0, {j}), Act.Sigmoid(ai{u}) * Act.Tanh(ag{u})));");
                    w.Line($"V.StoreUnsafe(cNext{u}, ref c0, {j});");
                    w.Line($"V.StoreUnsafe(Flush(Act.Sigmoid(ao{u}) * Act.Tanh(cNext{u})), ref out0, {j});");
                    break;
                case LayerKind.Gru:
                    w.Line($"Vec r{u} = Act.Sigmoid(ar{u});");
                    w.Line($"Vec z{u} = Act.Sigmoid(az{u});");
                    w.Line($"Vec n{u} = Act.Tanh(V.FusedMultiplyAdd(r{u}, anh{u}, anx{u}));");
                    w.Line($"V.StoreUnsafe(Flush(V.FusedMultiplyAdd(z{u}, V.LoadUnsafe(ref h0, {j}) - n{u}, n{u})), ref out0, {j});");
                    break;
                default:
                    w.Line($"V.StoreUnsafe(Flush({(l.Relu ? $"V.Max(a{u}, Vec.Zero)" : $"Act.Tanh(a{u})")}), ref out0, {j});");
                    break;
            }
        }
    }
}
