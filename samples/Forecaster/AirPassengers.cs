using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Reflection;

namespace ForecasterSample;

/// <summary>
/// The monthly totals of international airline passengers, in thousands, January 1949 to December 1960: Box and
/// Jenkins' "Series G" (<i>Time Series Analysis: Forecasting and Control</i>, 1976), public domain. The 144 values
/// ship with the sample as <c>Data/airline-passengers.csv</c>, embedded in the assembly.
/// </summary>
public static class AirPassengers
{
    private const string ResourceName = "ForecasterSample.Data.airline-passengers.csv";

    /// <summary>Reads the series: one (first day of the month, passengers in thousands) pair per month, in order.</summary>
    /// <returns>The 144 months.</returns>
    /// <exception cref="InvalidDataException">The embedded file is missing or malformed.</exception>
    public static IReadOnlyList<(DateOnly Month, float Passengers)> Load()
    {
        using Stream stream = Assembly.GetExecutingAssembly().GetManifestResourceStream(ResourceName)
            ?? throw new InvalidDataException($"The resource {ResourceName} is missing from the assembly.");
        using var reader = new StreamReader(stream);
        return Parse(reader);
    }

    /// <summary>Parses <c>month,passengers</c> lines (a header first, months as <c>yyyy-MM</c>).</summary>
    /// <param name="reader">The CSV text.</param>
    /// <returns>The months in file order.</returns>
    /// <exception cref="InvalidDataException">A line is not <c>yyyy-MM,number</c>.</exception>
    public static IReadOnlyList<(DateOnly Month, float Passengers)> Parse(TextReader reader)
    {
        ArgumentNullException.ThrowIfNull(reader);
        var series = new List<(DateOnly, float)>();
        string? header = reader.ReadLine();
        if (header != "month,passengers")
        {
            throw new InvalidDataException($"Expected the header 'month,passengers', got '{header}'.");
        }

        int lineNumber = 1;
        for (string? line = reader.ReadLine(); line is not null; line = reader.ReadLine())
        {
            lineNumber++;
            if (line.Length == 0)
            {
                continue;
            }

            string[] fields = line.Split(',');
            if (fields.Length != 2
                || !DateOnly.TryParseExact(fields[0], "yyyy-MM", CultureInfo.InvariantCulture, DateTimeStyles.None, out DateOnly month)
                || !float.TryParse(fields[1], NumberStyles.Float, CultureInfo.InvariantCulture, out float value)
                || !(value > 0))
            {
                throw new InvalidDataException($"Line {lineNumber}: expected 'yyyy-MM,positive number', got '{line}'.");
            }

            series.Add((month, value));
        }

        return series;
    }
}
