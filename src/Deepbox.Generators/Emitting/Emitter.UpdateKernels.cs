using System;
using System.Collections.Generic;
using System.Linq;

namespace Deepbox.Generators;

/// <summary>The cell updates of the recurrence kernels: gate activations and the new h (and c) from the sums a step left in scratch.</summary>
internal static partial class Emitter
{
    /// <summary>
    /// The cell update of one block of hidden units for every sequence <c>b</c>, from the sums the product passes left
    /// in memory. One loop over the batch keeps a single copy of the activation code in the kernel (four inlined copies
    /// made the method so large that the JIT kept an accumulator of the product loop on the stack).
    /// </summary>
    private static void WriteSequenceUpdate(SourceWriter w, LayerSpec l, int hp, int v)
    {
        int row = l.Gates * hp;
        bool lstm = l.Kind == LayerKind.Lstm;
        bool gru = l.Kind == LayerKind.Gru;
        w.Line("/// <summary>");
        w.Line($"/// The cell update of the block of {Inv(v)} hidden units at j, for sequences bFirst to bEnd of a step (rows row0 + b; those from fresh on start from the initial state), from the sums the product");
        w.Line("/// passes left in memory. A method of its own: inlined, its activation constants (hoisted out of every loop by the");
        w.Line("/// JIT) crowded the product loop's registers and an accumulator went to the stack.");
        w.Line("/// </summary>");
        w.Line("[MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]");
        string args = "ref float gx0, " + (lstm || gru ? "ref float aux0, " : string.Empty) + "ref float seq0, " + (gru ? "ref float h00, " : lstm ? "ref float c00, " : string.Empty) + "int seqStride, int row0, int rowPrev, int fresh, int j, int bFirst, int bEnd";
        using (w.Block($"private static void {UpdateName(l)}({args})"))
        {
            w.Line(l.Gates == 1 ? "int col = j;" : $"int col = j * {Inv(l.Gates)};");
            WriteSequenceUpdateLoop(w, l, hp, v, row);
        }

        if (HasPairUpdate(l, hp, v) && w.Target == KernelTarget.Vector256)
        {
            w.Line();
            WriteLstmUpdatePair(w, l, hp, v);
        }
    }

    /// <summary>Whether the LSTM sequence kernel's pairs of blocks (<c>WriteBlockPairs</c>) update both blocks in one call of 16-float vectors.</summary>
    private static bool HasPairUpdate(LayerSpec l, int hp, int v) => l.Kind == LayerKind.Lstm && v == VectorIsa.V256.Width && hp >= 2 * v;

    private static string UpdatePairName(LayerSpec l) => UpdateName(l).Replace("Update", "UpdatePair");

    /// <summary>
    /// The LSTM cell update of two neighbouring blocks (16 hidden units at j) on 16-float vectors, where Vector512 is
    /// accelerated: each block's i|f and g|o activated in place as <see cref="WriteSequenceUpdateLoop"/> does, then c and
    /// h of the 16 units at once, i, f, g and o of both blocks gathered into 16-float vectors by one 128-bit-lane shuffle
    /// each. Lane by lane the operations of the 8-float update (the activations give the same bits at every width): the
    /// same bits, with half its instructions for tanh(c) and one call for the pair instead of two. Alternated with the two
    /// calls (medians of 6 rounds of the benchmarks' `loop` mode, old/new): W2 1.028, W1 1.024, W1 on 2 threads 1.054, on an
    /// AMD EPYC family 26 model 2 (Zen 5, FMA peak 227-231 GFLOP/s; docs/benchmarks.md, session 17). Not measured on a core
    /// with half-rate 512-bit units.
    /// </summary>
    private static void WriteLstmUpdatePair(SourceWriter w, LayerSpec l, int hp, int v)
    {
        int row = l.Gates * hp;
        string gRow = $"ref float gRow0 = ref Unsafe.Add(ref gx0, (row0 + b) * {Inv(row)});";
        string v512 = "global::System.Runtime.Intrinsics.Vector512<float>";
        w.Line("/// <summary>");
        w.Line($"/// The cell update of the two blocks of {Inv(v)} hidden units at j and j + {Inv(v)} on 16-float vectors (Vector512 accelerated), for");
        w.Line("/// sequences bFirst to bEnd of a step: the same bits as the update of each block on its own, half its instructions for tanh(c).");
        w.Line("/// </summary>");
        w.Line("[MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]");
        using (w.Block($"private static void {UpdatePairName(l)}(ref float gx0, ref float aux0, ref float seq0, ref float c00, int seqStride, int row0, int rowPrev, int fresh, int j, int bFirst, int bEnd)"))
        {
            w.Line($"int col = j * {Inv(l.Gates)}; // the first block's i|f, g|o, then the second block's");
            w.Line("// The gates, activated in place (Backward reads them there): i|f through the gates' sigmoid, g|o through tanh and the sigmoid.");
            WriteWideGateActivations(w, l, v, gRow, "bFirst", blocks: 2);

            using (w.Block("for (int b = bFirst; b < bEnd; b++)"))
            {
                WriteUpdateRowRefs(w, l, hp, gRow, 0);
                w.Line($"{v512} ifA = V512.LoadUnsafe(ref gRow0, (nuint)col), goA = V512.LoadUnsafe(ref gRow0, (nuint)(col + {Inv(2 * v)}));");
                w.Line($"{v512} ifB = V512.LoadUnsafe(ref gRow0, (nuint)(col + {Inv(4 * v)})), goB = V512.LoadUnsafe(ref gRow0, (nuint)(col + {Inv(6 * v)}));");
                w.Line("// The lower halves of i|f and g|o hold i and g, the upper f and o: 0x44 takes both blocks' lower halves, 0xEE the upper.");
                w.Line($"{v512} i = Avx512F.Shuffle4x128(ifA, ifB, 0x44), f = Avx512F.Shuffle4x128(ifA, ifB, 0xEE);");
                w.Line($"{v512} g = Avx512F.Shuffle4x128(goA, goB, 0x44), o = Avx512F.Shuffle4x128(goA, goB, 0xEE);");
                w.Line($"{v512} cNext = Flush(V512.FusedMultiplyAdd(f, V512.LoadUnsafe(ref cPrev0, (nuint)j), i * g));");
                w.Line("V512.StoreUnsafe(cNext, ref auxRow0, (nuint)j);");
                w.Line("V512.StoreUnsafe(Flush(o * Act.Tanh(cNext)), ref hNext0, (nuint)j);");
            }
        }
    }

    private static string UpdateName(LayerSpec l) => SequenceName(l, l.HiddenSize).Replace("Sequence", "Update");

    /// <summary>The call of <see cref="WriteSequenceUpdate"/>'s method (or, <paramref name="pair"/>, of <see cref="WriteLstmUpdatePair"/>'s) from the sequence kernel.</summary>
    private static string UpdateCall(LayerSpec l, string j = "j", string from = "bFirst", string to = "end", bool pair = false)
    {
        bool lstm = l.Kind == LayerKind.Lstm;
        bool gru = l.Kind == LayerKind.Gru;
        return $"{(pair ? UpdatePairName(l) : UpdateName(l))}(ref gx0, " + (lstm || gru ? "ref aux0, " : string.Empty) + "ref seq0, " + (gru ? "ref h00, " : lstm ? "ref c00, " : string.Empty) + $"seqStride, row0, rowPrev, fresh, {j}, {from}, {to});";
    }

    /// <summary>
    /// The batch above which a block's update runs tile by tile, right after each tile's sums, rather than over the whole
    /// batch after them; or 0 where it never does. A gate row of a multiple of 2 KB puts every row's slice of a block in
    /// one or two of L1's sets: over a batch of 64 rows of LSTM(128, 256)'s 4 KB gate rows, the update's loops found none
    /// of the rows they had just read. Tile by tile, W2 (that LSTM, B = 64, T = 128) took 4.8% less time on one thread
    /// (6 rounds of the benchmarks' `loop` mode alternated with the whole-batch update; docs/benchmarks.md, session 14) on
    /// an AMD EPYC family 26 model 2, Zen 5 (a 12-way, 48 KB L1), FMA peak 211-232 GFLOP/s. The thresholds come from a
    /// throwaway kernel of the update's loops on that core (not kept): over 16 rows of 2 KB the whole batch was faster,
    /// and 1 KB rows showed no difference at 64 rows.
    /// </summary>
    private static int UpdateByTileAbove(LayerSpec l, int hp)
    {
        int rowBytes = l.Gates * hp * sizeof(float);
        return rowBytes % 2048 != 0 ? 0 : 16 * 4096 / (rowBytes % 4096 == 0 ? 4096 : 2048);
    }

    private static void WriteSequenceUpdateLoop(SourceWriter w, LayerSpec l, int hp, int v, int row)
    {
        const int r = 0;
        string gRow = $"ref float gRow{r} = ref Unsafe.Add(ref gx0, (row0 + b) * {Inv(row)});";
        string from = "bFirst";
        if (l.Kind == LayerKind.Gru && v == VectorIsa.V256.Width && w.Target == KernelTarget.Vector256)
        {
            WriteGruUpdatePairs(w, l, hp, v);
            from = "rest";
        }

        if (l.Kind != LayerKind.Rnn)
        {
            // First the gates that need nothing else, activated in place (Backward reads them there), in a loop of short
            // independent iterations the core runs several at a time; then the rest of each cell's update.
            bool pair = v == VectorIsa.V256.Width && w.Target == KernelTarget.Vector256; // not on the ladder: no Vector512 there
            bool lstm = l.Kind == LayerKind.Lstm;
            w.Line(lstm
                ? "// The gates, activated in place: i, f and o through the gates' sigmoid (Act.GateSigmoid), g through tanh."
                : "// The gates r and z, activated in place.");
            if (pair)
            {
                using (w.Block("if (V512.IsHardwareAccelerated)"))
                {
                    w.Line(lstm
                        ? "// i and f sit side by side, and g and o: each pair takes one 16-float pass (tanh on g's lanes), half the"
                        : "// r and z sit side by side: they take one 16-float sigmoid, half the instructions of two 8-float ones, which");
                    w.Line(lstm
                        ? "// instructions of two 8-float ones, which is what bounds these loops; the same bits. A loop for each pair: one"
                        : "// is what bounds this loop; the same bits.");
                    if (lstm)
                    {
                        w.Line("// activation an iteration leaves room for more iterations in flight, whose divisions the core then overlaps");
                        w.Line("// (W1's update took 7% less time than with both pairs in one loop on an AMD EPYC family 25 model 17, Zen 4, FMA");
                        w.Line("// peak 117 GFLOP/s: docs/benchmarks.md, session 11).");
                    }

                    WriteWideGateActivations(w, l, v, gRow, from, blocks: 1);
                }
            }

            using (pair ? w.Block("else") : default(IDisposable?))
            {
                using (w.Block($"for (int b = {from}; b < bEnd; b++)"))
                {
                    w.Line(gRow);
                    WriteGateActivations(w, l, r, v);
                }
            }
        }

        using (w.Block($"for (int b = {from}; b < bEnd; b++)"))
        {
            WriteUpdateRowRefs(w, l, hp, gRow, r);
            switch (l.Kind)
            {
                case LayerKind.Lstm:
                    w.Line($"Vec cNext{r} = Flush(V.FusedMultiplyAdd(V.LoadUnsafe({SumSlot(l, r, 1, v)}), V.LoadUnsafe(ref cPrev{r}, (nuint)j), V.LoadUnsafe({SumSlot(l, r, 0, v)}) * V.LoadUnsafe({SumSlot(l, r, 2, v)})));");
                    w.Line($"V.StoreUnsafe(cNext{r}, ref auxRow{r}, (nuint)j);");
                    w.Line($"V.StoreUnsafe(Flush(V.LoadUnsafe({SumSlot(l, r, 3, v)}) * Act.Tanh(cNext{r})), ref hNext{r}, (nuint)j);");
                    break;
                case LayerKind.Gru:
                    w.Line($"Vec n{r} = Act.Tanh(V.FusedMultiplyAdd(V.LoadUnsafe({SumSlot(l, r, 0, v)}), V.LoadUnsafe({SumSlot(l, r, 2, v)}), V.LoadUnsafe(ref gRow{r}, (nuint)(col + {Inv(2 * v)}))));");
                    w.Line($"V.StoreUnsafe(Flush(V.FusedMultiplyAdd(V.LoadUnsafe({SumSlot(l, r, 1, v)}), V.LoadUnsafe(ref hPrev{r}, (nuint)j) - n{r}, n{r})), ref hNext{r}, (nuint)j);");
                    w.Line($"// n replaces its input product; aux keeps W_hn h + b_hn. Backward reads them.");
                    w.Line($"V.StoreUnsafe(n{r}, ref gRow{r}, (nuint)(col + {Inv(2 * v)}));");
                    break;
                default:
                    w.Line($"V.StoreUnsafe(Flush({(l.Relu ? "V.Max" : "Act.Tanh")}(V.LoadUnsafe({SumSlot(l, r, 0, v)}){(l.Relu ? ", Vec.Zero" : string.Empty)})), ref hNext{r}, (nuint)j);");
                    break;
            }
        }
    }

    /// <summary>
    /// The gates that need nothing else, activated in place on 16-float vectors (Vector512 accelerated): LSTM's i|f through
    /// the gates' sigmoid and g|o through tanh and the sigmoid, GRU's r|z through the sigmoid; a loop for each pair of gates
    /// over the sequences from <paramref name="from"/>, each iteration taking <paramref name="blocks"/> neighbouring blocks
    /// of <paramref name="v"/> units (row 0's gate row, <paramref name="gRow"/>).
    /// </summary>
    private static void WriteWideGateActivations(SourceWriter w, LayerSpec l, int v, string gRow, string from, int blocks)
    {
        for (int gate = 0; gate < (l.Kind == LayerKind.Lstm ? 4 : 2); gate += 2)
        {
            string act = gate == 0 ? "Act.GateSigmoid" : "Act.TanhAndGateSigmoid";
            using (w.Block($"for (int b = {from}; b < bEnd; b++)"))
            {
                w.Line(gRow);
                for (int block = 0; block < blocks; block++)
                {
                    int offset = ((block * l.Gates) + gate) * v;
                    string slot = offset == 0 ? "ref gRow0, (nuint)col" : $"ref gRow0, (nuint)(col + {Inv(offset)})";
                    w.Line($"V512.StoreUnsafe({act}(V512.LoadUnsafe({slot})), {slot});");
                }
            }
        }
    }

    /// <summary>
    /// The references a cell update takes for sequence <c>b</c> as row <paramref name="r"/>: the new h (hNext), the gate
    /// row (<paramref name="gRow"/>), aux's row (the new c of an LSTM, W_hn h + b_hn of a GRU), and the previous c
    /// (LSTM) or h (GRU): the initial state's row for sequences from <c>fresh</c> on, else the step before's.
    /// </summary>
    private static void WriteUpdateRowRefs(SourceWriter w, LayerSpec l, int hp, string gRow, int r)
    {
        w.Line($"ref float hNext{r} = ref Unsafe.Add(ref seq0, (row0 + b) * seqStride);");
        if (l.Kind != LayerKind.Rnn)
        {
            w.Line(gRow);
            w.Line($"ref float auxRow{r} = ref Unsafe.Add(ref aux0, (row0 + b) * {Inv(hp)});");
        }

        if (l.Kind == LayerKind.Lstm)
        {
            w.Line($"ref float cPrev{r} = ref (b >= fresh ? ref Unsafe.Add(ref c00, b * {Inv(hp)}) : ref Unsafe.Add(ref aux0, (rowPrev + b) * {Inv(hp)}));");
        }
        else if (l.Kind == LayerKind.Gru)
        {
            w.Line($"ref float hPrev{r} = ref (b >= fresh ? ref Unsafe.Add(ref h00, b * {Inv(hp)}) : ref Unsafe.Add(ref seq0, (rowPrev + b) * seqStride));");
        }
    }

    /// <summary>
    /// Each gate that needs nothing else activated in place on 8-float vectors, for sequence row <paramref name="r"/>:
    /// LSTM's i, f, o through the gates' sigmoid and g through tanh; GRU's r and z through the gates' sigmoid.
    /// </summary>
    private static void WriteGateActivations(SourceWriter w, LayerSpec l, int r, int v)
    {
        for (int i = 0; i < (l.Kind == LayerKind.Lstm ? 4 : 2); i++)
        {
            string act = l.Kind == LayerKind.Lstm && i == 2 ? "Tanh" : "GateSigmoid";
            w.Line($"V.StoreUnsafe(Act.{act}(V.LoadUnsafe({SumSlot(l, r, i, v)})), {SumSlot(l, r, i, v)});");
        }
    }

    /// <summary>Sequences the GRU update takes at a time where Vector512 is accelerated (<see cref="WriteGruUpdatePairs"/>).</summary>
    private const int UpdateRows = 2;

    /// <summary>
    /// The GRU cell update of <see cref="UpdateRows"/> sequences at a time where Vector512 is accelerated: each
    /// sequence's r|z through one 16-float sigmoid, then n = tanh(x_n + r * (W_hn h + b_hn)) of both sequences side by
    /// side in one 16-float tanh. Lane by lane the operations of the loops that follow (which take the sequence left
    /// over), so the same bits. On an AMD EPYC family 25 model 17 (Zen 4, FMA peak 117 GFLOP/s), W4 (GRU(32, 128),
    /// B = 32, T = 100) took 5.23 ms against 5.60 ms with the loops alone (BenchmarkDotNet, `benchmarks/run.sh --filter
    /// '*W4_Gru.Deepbox'` in each checkout); the same for LSTM's g, o and tanh(c) was slower on W1 there, and LSTM keeps
    /// the loops (docs/benchmarks.md, issue 18). Leaves <c>rest</c> at the first sequence not updated.
    /// </summary>
    private static void WriteGruUpdatePairs(SourceWriter w, LayerSpec l, int hp, int v)
    {
        w.Line("int rest = bFirst; // the first sequence the loops below update");
        using (w.Block("if (V512.IsHardwareAccelerated)"))
        {
            w.Line($"// {Inv(UpdateRows)} sequences at a time: n of both in one 16-float vector.");
            w.Line($"rest = bEnd - ((bEnd - bFirst) % {Inv(UpdateRows)});");
            using (w.Block($"for (int b = bFirst; b < rest; b += {Inv(UpdateRows)})"))
            {
                for (int r = 0; r < UpdateRows; r++)
                {
                    string br = r == 0 ? "b" : $"(b + {Inv(r)})";
                    w.Line($"ref float gRow{r} = ref Unsafe.Add(ref gx0, (row0 + {br}) * {Inv(l.Gates * hp)});");
                }

                WriteGruUpdatePair(w, l, hp, v);
            }
        }
    }

    /// <summary>The body of <see cref="WriteGruUpdatePairs"/>'s loop: each sequence's r|z through one sigmoid, n of both through one tanh.</summary>
    private static void WriteGruUpdatePair(SourceWriter w, LayerSpec l, int hp, int v)
    {
        w.Line("// r|z through the gates' sigmoid, in place (Backward reads them there); n = tanh(x_n + r * (W_hn h + b_hn)) of both sequences at once.");
        for (int r = 0; r < UpdateRows; r++)
        {
            string br = r == 0 ? "b" : $"(b + {Inv(r)})";
            w.Line($"ref float auxRow{r} = ref Unsafe.Add(ref aux0, (row0 + {br}) * {Inv(hp)});");
            w.Line($"var rz{r} = Act.GateSigmoid(V512.LoadUnsafe({SumSlot(l, r, 0, v)}));");
        }

        string Pre(int r) => $"V.FusedMultiplyAdd(V512.GetLower(rz{r}), V.LoadUnsafe({SumSlot(l, r, 2, v)}), V.LoadUnsafe(ref gRow{r}, (nuint)(col + {Inv(2 * v)})))";
        w.Line($"var n01 = Act.Tanh(V512.Create({Pre(0)}, {Pre(1)}));");
        for (int r = 0; r < UpdateRows; r++)
        {
            string br = r == 0 ? "b" : $"(b + {Inv(r)})";
            string half = r == 0 ? "GetLower" : "GetUpper";
            w.Line($"V512.StoreUnsafe(rz{r}, {SumSlot(l, r, 0, v)});");
            w.Line($"ref float hPrev{r} = ref ({br} >= fresh ? ref Unsafe.Add(ref h00, {br} * {Inv(hp)}) : ref Unsafe.Add(ref seq0, (rowPrev + {br}) * seqStride));");
            w.Line($"V.StoreUnsafe(Flush(V.FusedMultiplyAdd(V512.GetUpper(rz{r}), V.LoadUnsafe(ref hPrev{r}, (nuint)j) - V512.{half}(n01), V512.{half}(n01))), ref Unsafe.Add(ref seq0, (row0 + {br}) * seqStride), (nuint)j);");
            w.Line($"V.StoreUnsafe(V512.{half}(n01), ref gRow{r}, (nuint)(col + {Inv(2 * v)}));");
        }
    }

    /// <summary>
    /// The names of the accumulators of one block's gate sums. The sequence kernels keep GRU's n as one sum,
    /// W_hn h + b_hn (its input part waits in gx); the step kernels, which add the input part themselves, keep it as two.
    /// </summary>
    private static string[] GateSums(LayerSpec l, bool splitGruN) => l.Kind switch
    {
        LayerKind.Lstm => ["ai", "af", "ag", "ao"],
        LayerKind.Gru => splitGruN ? ["ar", "az", "anx", "anh"] : ["ar", "az", "an"],
        _ => ["a"],
    };

    /// <summary>
    /// Where row <paramref name="r"/>'s sum for gate <paramref name="gate"/> waits between the product and the
    /// activations: over the gate's input products in gx (which the activations overwrite anyway), except GRU's n,
    /// whose sum W_hn h + b_hn goes to aux (Backward reads it there) because its input product is still needed, and the
    /// RNN's, which goes straight to h.
    /// </summary>
    private static string SumSlot(LayerSpec l, int r, int gate, int v) => l.Kind switch
    {
        LayerKind.Gru when gate == 2 => $"ref auxRow{r}, (nuint)j",
        LayerKind.Lstm or LayerKind.Gru => $"ref gRow{r}, {(gate == 0 ? "(nuint)col" : $"(nuint)(col + {Inv(gate * v)})")}",
        _ => $"ref hNext{r}, (nuint)j",
    };
}
