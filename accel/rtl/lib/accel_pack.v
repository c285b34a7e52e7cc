// Classifier output: pixels of C codes -> one 32-bit word per code (sign-extended if SIGNED, else
// zero-extended), channel order, TLAST on the last word of the image (accel_hls.json io.output).
`default_nettype none
module accel_pack #(
    parameter C      = 10,
    parameter BITS   = 8,
    parameter SIGNED = 1
) (
    input  wire              clk,
    input  wire              rst_n,
    input  wire [C*BITS-1:0] s_data,
    input  wire              s_last,
    input  wire              s_valid,
    output wire              s_ready,
    output wire [31:0]       m_data,
    output wire [3:0]        m_keep,
    output wire              m_last,
    output wire              m_valid,
    input  wire              m_ready
);
    localparam CW = (C > 1) ? $clog2(C) : 1;
    reg [C*BITS-1:0] pix;
    reg full, last_q;
    reg [CW-1:0] ch;
    wire [BITS-1:0] code = pix[BITS-1:0];  // the pixel shifts down one code per word
    wire fin = full && m_ready && (ch == C - 1);
    assign s_ready = !full || fin;
    assign m_valid = full;
    assign m_data  = SIGNED ? {{(32-BITS){code[BITS-1]}}, code} : {{(32-BITS){1'b0}}, code};
    assign m_keep  = 4'hf;
    assign m_last  = last_q && (ch == C - 1);
    always @(posedge clk)
        if (s_valid && s_ready) begin
            pix <= s_data; last_q <= s_last;
        end else if (full && m_ready) begin
            pix <= pix >> BITS;
        end
    always @(posedge clk or negedge rst_n) begin
        if (!rst_n) begin
            full <= 1'b0; ch <= 0;
        end else begin
            if (s_valid && s_ready) full <= 1'b1;
            else if (fin) full <= 1'b0;
            if (full && m_ready) ch <= (ch == C - 1) ? 0 : ch + 1'b1;
        end
    end
endmodule
`default_nettype wire
