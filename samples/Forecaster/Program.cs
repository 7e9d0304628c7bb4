using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Text;
using ForecasterSample;
using Spectre.Console;

// Trains the Forecaster on the airline passengers, with a live progress bar (plain epoch lines when the output is
// redirected), then writes the loss and forecast charts and the weights to the output folder.
//
//   dotnet run --project samples/Forecaster -c Release [-- --epochs N] [--out DIR] [--seed S]
string? outDir = null;
var options = new TrainingOptions();
for (int i = 0; i < args.Length; i++)
{
    string arg = args[i];
    if (arg is "-h" or "--help")
    {
        Console.WriteLine("usage: Forecaster [--epochs N] [--seed S] [--out DIR]");
        Console.WriteLine($"  --epochs N  passes over the training windows (default {options.Epochs})");
        Console.WriteLine($"  --seed S    seed of the weights, dropout and shuffling (default {options.Seed})");
        Console.WriteLine("  --out DIR   where the charts and weights go (default samples/Forecaster/out)");
        return 0;
    }

    if (i + 1 >= args.Length)
    {
        return Fail($"{arg} needs a value.");
    }

    string value = args[++i];
    switch (arg)
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
            return Fail($"Unknown option or bad value: {arg} {value}");
    }
}

outDir = Path.GetFullPath(outDir ?? DefaultOutDir());
Directory.CreateDirectory(outDir);
options = options with { WeightsPath = Path.Combine(outDir, "forecaster.safetensors") };

// Spectre's progress display draws only on a terminal: redirected, it falls back to a few lines of its own (none for a
// loop shorter than a second, and no line at 100%). So a terminal gets the live bar, anything else plain epoch lines.
bool live = AnsiConsole.Profile.Capabilities.Interactive && !Console.IsOutputRedirected;
TrainingResult result;
if (live)
{
    TrainingResult? done = null;
    using var log = new AnsiLineWriter();
    AnsiConsole.Progress()
        .AutoClear(false)
        .HideCompleted(false)
        .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
        .Start(ctx =>
        {
            ProgressTask task = ctx.AddTask("epoch", maxValue: options.Epochs);
            done = Training.Run(options, log, e =>
            {
                task.Description = string.Create(CultureInfo.InvariantCulture, $"epoch {e.Epoch}/{e.Epochs}  loss {e.Loss:F5}");
                task.Value = e.Epoch;
                log.Hold = e.Epoch == e.Epochs; // the results go below the finished bar, not above it
            });
        });
    log.Release();
    result = done!;
}
else
{
    options = options with { ReportEvery = Math.Max(1, options.Epochs / 8) };
    result = Training.Run(options, Console.Out);
}

string lossPng = Path.Combine(outDir, "loss.png");
string forecastPng = Path.Combine(outDir, "forecast.png");
Plots.SaveLoss(result, lossPng);
Plots.SaveForecast(result, forecastPng);
Console.WriteLine($"Charts: {lossPng}, {forecastPng}");
return result.BeatsBaseline && result.ReloadMatches ? 0 : 1;

// The sample's own out/ folder when run from the repository (found from the build output upwards), else ./out.
static string DefaultOutDir()
{
    for (DirectoryInfo? d = new(AppContext.BaseDirectory); d is not null; d = d.Parent)
    {
        if (File.Exists(Path.Combine(d.FullName, "Forecaster.csproj")))
        {
            return Path.Combine(d.FullName, "out");
        }
    }

    return Path.Combine(Environment.CurrentDirectory, "out");
}

static int Fail(string message)
{
    Console.Error.WriteLine(message);
    Console.Error.WriteLine("usage: Forecaster [--epochs N] [--seed S] [--out DIR]");
    return 2;
}

/// <summary>
/// Writes whole lines through Spectre, so they appear above a live progress display instead of tearing it; while
/// <see cref="Hold"/> is set, lines are kept until <see cref="Release"/>.
/// </summary>
internal sealed class AnsiLineWriter : TextWriter
{
    private readonly StringBuilder _line = new();
    private readonly List<string> _held = [];

    public override Encoding Encoding => Encoding.UTF8;

    /// <summary>Whether finished lines are kept for <see cref="Release"/> instead of written.</summary>
    public bool Hold { get; set; }

    /// <summary>Writes the lines kept while <see cref="Hold"/> was set.</summary>
    public void Release()
    {
        Hold = false;
        foreach (string line in _held)
        {
            AnsiConsole.WriteLine(line);
        }

        _held.Clear();
    }

    public override void Write(char value)
    {
        if (value == '\n')
        {
            if (Hold)
            {
                _held.Add(_line.ToString());
            }
            else
            {
                AnsiConsole.WriteLine(_line.ToString());
            }

            _line.Clear();
        }
        else if (value != '\r')
        {
            _line.Append(value);
        }
    }
}
