using System;
using System.IO;

namespace Deepbox;

/// <summary>
/// The one exception <see cref="Safetensors.Parse"/> and <see cref="Safetensors.Load"/> throw for data that is not a
/// valid safetensors file. The message says what was wrong and where: the tensor name, the field, or the byte offset
/// in the file.
/// </summary>
/// <remarks>
/// It derives from <see cref="IOException"/> (<see cref="InvalidDataException"/>, the natural base, is sealed), so code
/// that already handles a file that cannot be read also handles one that is not valid.
/// </remarks>
public sealed class SafetensorsException : IOException
{
    /// <summary>Creates the exception with a generic message.</summary>
    public SafetensorsException()
        : base("The data is not a valid safetensors file.")
    {
    }

    /// <summary>Creates the exception with a message that says what was wrong and where.</summary>
    /// <param name="message">What was wrong and where.</param>
    public SafetensorsException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and the exception that caused it.</summary>
    /// <param name="message">What was wrong and where.</param>
    /// <param name="innerException">The exception that revealed the problem, for example the JSON reader's.</param>
    public SafetensorsException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }
}
