// DMA words -> pixels: 32-bit AXI4-Stream words carrying the NHWC uint8 codes of an image, value
// i in bits [8*(i%4) +: 8] of word i/4, the last word zero-padded (accel_hls.json io.input) ->
// one pixel (C codes) per beat, TLAST on the image's last pixel. One code per cycle.
`default_nettype none
module accel_unpack #(
    parameter C      = 1,
    parameter BITS   = 8,      // code bits (<= 8: one byte per code)
    parameter VALUES = 784     // codes per image (pixels x C)
) (
    input  wire              clk,
    input  wire              rst_n,
    input  wire [31:0]       s_data,
    input  wire              s_last,   // not required: VALUES fixes the image size
    input  wire              s_valid,
    output wire              s_ready,
    output reg  [C*BITS-1:0] m_data,
    output reg               m_last,
    output reg               m_valid,
    input  wire              m_ready
);
    localparam CW = (C > 1) ? $clog2(C) : 1;
    reg [31:0] word;
    reg        full;
    reg [1:0]  bi;
    reg [$clog2(VALUES + 1)-1:0] vi;       // value index in the image
    reg [CW-1:0] ch;
    reg [C*BITS-1:0] pix;
    wire pix_end  = (ch == C - 1);
    wire img_end  = (vi == VALUES - 1);
    wire step     = full && !(pix_end && m_valid && !m_ready);
    wire word_end = (bi == 2'd3) || img_end;
    assign s_ready = !full || (step && word_end);
    wire [7:0] byte_ = word[bi*8 +: 8];
    // codes shift in from the top: after C codes, channel 0 is lowest
    wire [C*BITS-1:0] pix_next;
    generate
        if (C == 1) begin : g_one
            assign pix_next = byte_[BITS-1:0];
        end else begin : g_many
            assign pix_next = {byte_[BITS-1:0], pix[C*BITS-1:BITS]};
        end
    endgenerate
    always @(posedge clk) begin
        if (s_valid && s_ready) word <= s_data;
        if (step) pix <= pix_next;
        if (step && pix_end) begin
            m_data <= pix_next; m_last <= img_end;
        end
    end
    always @(posedge clk or negedge rst_n) begin
        if (!rst_n) begin
            full <= 1'b0; bi <= 0; vi <= 0; ch <= 0; m_valid <= 1'b0;
        end else begin
            if (s_valid && s_ready) full <= 1'b1;
            else if (step && word_end) full <= 1'b0;
            if (step) begin
                bi <= word_end ? 2'd0 : bi + 1'b1;
                vi <= img_end ? 0 : vi + 1;
                ch <= pix_end ? 0 : ch + 1'b1;
            end
            if (step && pix_end) m_valid <= 1'b1;
            else if (m_ready) m_valid <= 1'b0;
        end
    end
endmodule
`default_nettype wire
