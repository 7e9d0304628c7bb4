using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using ScottPlot;

namespace ForecasterSample;

/// <summary>The sample's two charts, drawn with ScottPlot into PNG files.</summary>
public static class Plots
{
    /// <summary>The family name the bundled font is registered under.</summary>
    public const string FontName = "DejaVu Sans";

    private const int Width = 900;
    private const int Height = 450;

    private static bool s_fontRegistered;

    /// <summary>
    /// Registers the DejaVu Sans file shipped beside the sample (<c>Fonts/DejaVuSans.ttf</c>) with ScottPlot and makes
    /// it the default. ScottPlot otherwise asks the system for a font, and on a machine without fonts it silently draws
    /// no text at all: no title, no labels, no tick numbers.
    /// </summary>
    /// <exception cref="FileNotFoundException">The font file is not beside the assembly.</exception>
    public static void UseBundledFont()
    {
        if (s_fontRegistered)
        {
            return;
        }

        string path = Path.Combine(AppContext.BaseDirectory, "Fonts", "DejaVuSans.ttf");
        if (!File.Exists(path))
        {
            throw new FileNotFoundException("The sample's font file is missing.", path);
        }

        Fonts.AddFontFile(FontName, path);
        Fonts.Default = FontName;
        s_fontRegistered = true;
    }

    /// <summary>Draws the mean training loss of every epoch on a log scale.</summary>
    /// <param name="result">The training run.</param>
    /// <param name="path">The PNG file to write.</param>
    public static void SaveLoss(TrainingResult result, string path)
    {
        ArgumentNullException.ThrowIfNull(result);
        UseBundledFont();
        var plot = new Plot();
        double[] epochs = [.. Enumerable.Range(1, result.EpochLosses.Count).Select(e => (double)e)];
        double[] logLoss = [.. result.EpochLosses.Select(l => Math.Log10(l))];
        var line = plot.Add.ScatterLine(epochs, logLoss);
        line.LineWidth = 2;
        line.Color = Colors.SteelBlue;

        // A log scale: the values are log10(loss), with ticks at 1, 2 and 5 times the powers of ten in range, each
        // labelled with the loss itself.
        double low = result.EpochLosses.Min(), high = result.EpochLosses.Max();
        var positions = new List<double>();
        var labels = new List<string>();
        for (int power = (int)Math.Floor(Math.Log10(low)); power <= (int)Math.Ceiling(Math.Log10(high)); power++)
        {
            foreach (int mantissa in (ReadOnlySpan<int>)[1, 2, 5])
            {
                double tick = mantissa * Math.Pow(10, power);
                if (tick >= low / 1.25 && tick <= high * 1.25)
                {
                    positions.Add(Math.Log10(tick));
                    labels.Add(((decimal)tick).ToString(CultureInfo.InvariantCulture));
                }
            }
        }

        plot.Axes.Left.SetTicks([.. positions], [.. labels]);
        plot.Title("Forecaster: mean training loss per epoch");
        plot.XLabel("epoch");
        plot.YLabel("MSE of normalized log-ratios (log scale)");
        plot.Font.Set(FontName);
        plot.SavePng(path, Width, Height);
    }

    /// <summary>
    /// Draws the test range's truth, the model's one-month-ahead forecasts and the naive forecasts, with the two
    /// years before the test range for context.
    /// </summary>
    /// <param name="result">The training run.</param>
    /// <param name="path">The PNG file to write.</param>
    public static void SaveForecast(TrainingResult result, string path)
    {
        ArgumentNullException.ThrowIfNull(result);
        UseBundledFont();
        ForecastData data = result.Data;
        int from = Math.Max(0, data.TestStart - 24);
        double[] x = [.. data.Months.Select(m => m.ToDateTime(TimeOnly.MinValue).ToOADate())];
        double[] values = [.. data.Values.ToArray().Select(v => (double)v)];
        double[] testX = x[data.TestStart..];

        var plot = new Plot();
        var context = plot.Add.Scatter(x[from..(data.TestStart + 1)], values[from..(data.TestStart + 1)]);
        context.LegendText = "observed (training range)";
        context.Color = Colors.Gray;
        context.LineWidth = 2;
        context.MarkerSize = 4;

        var truth = plot.Add.Scatter(testX, values[data.TestStart..]);
        truth.LegendText = "observed (test range)";
        truth.Color = Colors.Black;
        truth.LineWidth = 2;
        truth.MarkerSize = 5;

        var naive = plot.Add.Scatter(testX, [.. result.BaselinePredictions.Select(v => (double)v)]);
        naive.LegendText = string.Create(CultureInfo.InvariantCulture, $"naive: last month (RMSE {result.BaselineRmse:F1})");
        naive.Color = Colors.Gray.WithAlpha(0.8);
        naive.LinePattern = LinePattern.Dashed;
        naive.LineWidth = 1.5f;
        naive.MarkerSize = 0;

        var model = plot.Add.Scatter(testX, [.. result.TestPredictions.Select(v => (double)v)]);
        model.LegendText = string.Create(CultureInfo.InvariantCulture, $"LSTM forecast (RMSE {result.TestRmse:F1})");
        model.Color = Colors.OrangeRed;
        model.LineWidth = 2.5f;
        model.MarkerSize = 5;

        var split = plot.Add.VerticalLine((x[data.TestStart - 1] + x[data.TestStart]) / 2);
        split.Color = Colors.Gray;
        split.LinePattern = LinePattern.Dotted;
        split.LineWidth = 1;

        // Ticks every six months, named as people name months (the invariant culture's dates would be 01/01/1959).
        DateOnly[] ticks = [.. data.Months.Skip(from).Where(m => m.Month is 1 or 7)];
        plot.Axes.Bottom.SetTicks(
            [.. ticks.Select(m => m.ToDateTime(TimeOnly.MinValue).ToOADate())],
            [.. ticks.Select(m => m.ToString("MMM yyyy", CultureInfo.InvariantCulture))]);
        plot.Title("Airline passengers: one-month-ahead forecasts on the test range (1959-1960)");
        plot.YLabel("passengers (thousands)");
        plot.ShowLegend(Alignment.UpperLeft);
        plot.Font.Set(FontName);
        plot.SavePng(path, Width, Height);
    }
}
