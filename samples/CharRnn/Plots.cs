using System;
using System.IO;
using System.Linq;
using ScottPlot;

namespace CharRnnSample;

/// <summary>The run's charts, drawn with ScottPlot into PNG files.</summary>
public static class Plots
{
    private const string FontName = "DejaVu Sans";

    /// <summary>
    /// Training loss and held-out perplexity per epoch, side by side with the bigram baseline's perplexity, in one PNG.
    /// </summary>
    public static void Save(TrainingResult result, string path)
    {
        ArgumentNullException.ThrowIfNull(result);
        string font = Path.Combine(AppContext.BaseDirectory, "Fonts", "DejaVuSans.ttf");
        if (!File.Exists(font))
        {
            throw new FileNotFoundException("The sample's font file is missing.", font);
        }

        Fonts.AddFontFile(FontName, font);
        Fonts.Default = FontName;
        double[] epochs = [.. Enumerable.Range(1, result.EpochLosses.Count).Select(e => (double)e)];

        var loss = new Plot();
        var lossLine = loss.Add.ScatterLine(epochs, [.. result.EpochLosses]);
        lossLine.LineWidth = 2;
        lossLine.LegendText = "training loss (cross-entropy, nats per character)";
        loss.Title("CharModel on Shakespeare's sonnets 1-140");
        loss.XLabel("epoch");
        loss.YLabel("loss");
        loss.ShowLegend(Alignment.UpperRight);

        var perplexity = new Plot();
        var model = perplexity.Add.ScatterLine(epochs, [.. result.HeldOutPerplexities]);
        model.LineWidth = 2;
        model.LegendText = "CharModel";
        var bigram = perplexity.Add.HorizontalLine(result.BigramPerplexity);
        bigram.LinePattern = LinePattern.Dashed;
        bigram.LegendText = "bigram baseline";
        perplexity.Title("Perplexity on the held-out sonnets 141-154");
        perplexity.XLabel("epoch");
        perplexity.YLabel("perplexity");
        perplexity.ShowLegend(Alignment.UpperRight);

        // Side by side: a new Multiplot holds an empty plot of its own, which goes first.
        var layout = new Multiplot();
        layout.RemovePlot(layout.GetPlot(0));
        layout.AddPlot(loss);
        layout.AddPlot(perplexity);
        layout.Layout = new ScottPlot.MultiplotLayouts.Columns();
        layout.SavePng(path, 1400, 500);
    }
}
