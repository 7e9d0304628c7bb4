using System;
using System.Globalization;
using System.IO;
using CharRnnSample;
using Spectre.Console;

// Trains a character-level language model on Shakespeare's sonnets (one line per sequence, so every batch has lines
// of different lengths), with a live progress bar, then compares it with a bigram model on held-out sonnets, plots the
// run, saves the weights and writes a few new lines with Step.
//
//   dotnet run --project samples/CharRnn -c Release [-- --epochs N] [--seed S] [--out DIR]
var options = new TrainingOptions();
string? outDir = null;
for (int i = 0; i < args.Length; i++)
{
    if (args[i] is "-h" or "--help")
    {
        Console.WriteLine("usage: CharRnn [--epochs N] [--seed S] [--out DIR]");
        Console.WriteLine($"  --epochs N  passes over the training lines (default {options.Epochs})");
        Console.WriteLine($"  --seed S    seed of the weights, dropout, shuffling and sampling (default {options.Seed})");
        Console.WriteLine("  --out DIR   where the chart and weights go (default samples/CharRnn/out)");
        return 0;
    }

    if (i + 1 >= args.Length)
    {
        Console.Error.WriteLine($"{args[i]} needs a value.");
        return 2;
    }

    string value = args[++i];
    switch (args[i - 1])
    {
        case "--epochs" when int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out int epochs) && epochs > 0:
            options = options with { Epochs = epochs };
            break;
        case "--seed" when int.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int seed):
            options = options with { Seed = seed };
            break;
        case "--out":
            outDir = value;
            break;
        default:
            Console.Error.WriteLine($"Unknown option or bad value: {args[i - 1]} {value}");
            return 2;
    }
}

outDir = Path.GetFullPath(outDir ?? Path.Combine(FindSampleDirectory(), "out"));
Directory.CreateDirectory(outDir);
options = options with { WeightsPath = Path.Combine(outDir, "charmodel.safetensors") };

TrainingResult? result = null;
if (AnsiConsole.Profile.Capabilities.Interactive && !Console.IsOutputRedirected)
{
    AnsiConsole.Progress()
        .AutoClear(false)
        .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
        .Start(ctx =>
        {
            ProgressTask task = ctx.AddTask("epoch", maxValue: options.Epochs);
            result = Training.Run(options, e =>
            {
                task.Description = string.Create(CultureInfo.InvariantCulture, $"epoch {e.Epoch}/{e.Epochs}  loss {e.Loss:F3}  held-out perplexity {e.HeldOutPerplexity:F2}");
                task.Value = e.Epoch;
            });
        });
}
else
{
    result = Training.Run(options, e => Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"epoch {e.Epoch}/{e.Epochs}  loss {e.Loss:F3}  held-out perplexity {e.HeldOutPerplexity:F2}")));
}

TrainingResult r = result!;
string chart = Path.Combine(outDir, "training.png");
Plots.Save(r, chart);
double model = r.HeldOutPerplexities[^1];
Console.WriteLine();
Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Trained {options.Epochs} epochs on {r.Corpus.Train.Count} lines in {r.Elapsed.TotalSeconds:F0} s ({Environment.ProcessorCount} cores, {options.Threads} threads)."));
Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Held-out perplexity (sonnets {Corpus.FirstHeldOut}-154, {r.Corpus.HeldOut.Count} lines): CharModel {model:F2}, bigram baseline {r.BigramPerplexity:F2}{(model < r.BigramPerplexity ? " (the model is better)" : " (the baseline is better)")}."));
Console.WriteLine($"Weights: {options.WeightsPath}");
Console.WriteLine($"Chart:   {chart}");
Console.WriteLine();
Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"New lines (Step, temperature 0.8, seed {options.Seed}):"));
foreach (string line in Generation.Sample(r.Model, r.Corpus, lines: 6, temperature: 0.8, seed: options.Seed))
{
    Console.WriteLine("  " + line);
}

return model < r.BigramPerplexity ? 0 : 1;

static string FindSampleDirectory()
{
    for (DirectoryInfo? d = new(AppContext.BaseDirectory); d is not null; d = d.Parent)
    {
        if (File.Exists(Path.Combine(d.FullName, "CharRnn.csproj")))
        {
            return d.FullName;
        }
    }

    return Directory.GetCurrentDirectory();
}
